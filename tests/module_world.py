"""Worlds built once per test module, inside a transaction that is rolled back.

A module whose every test needs the same expensive rows (the cross-tenant matrices'
alpha objects, signed-in sessions) builds them once in a module-scoped fixture through
:func:`rolled_back_world`: the rows are written inside a transaction that stays open
for the whole module and is rolled back at its end. Each test still runs in its own
transaction (pytest-django's ``db``), which on a connection already inside one is a
savepoint: whatever a test writes is rolled back before the next test, which therefore
finds the world exactly as it was built; and nothing of the world outlives the module.

Only for modules whose tests all use ``db`` (``alpha`` / ``beta``): a test that commits
(``committed_db``, ``transaction=True``) cannot run inside the module's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection, transaction

T = TypeVar("T")


@contextmanager
def rolled_back_world(django_db_blocker, build: Callable[[], T]) -> Iterator[T]:
    """Open the module's transaction, ``build()`` the world in it and yield what it
    returns; roll everything back when the module is done. The database is unblocked
    only while building and rolling back: a test still needs ``db`` to use it."""
    atomic = transaction.atomic()
    with django_db_blocker.unblock():
        atomic.__enter__()
        try:
            world = build()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
        finally:
            connection.set_schema_to_public()
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            assert connection.in_atomic_block, "the module's transaction was closed"
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            connection.set_schema_to_public()
