"""Migrating thousands of tenant schemas: find the behind ones in one query, migrate only those.

Stock ``migrate_schemas`` runs Django's ``migrate`` in every tenant schema, one after
another (or a few at a time with ``--executor=multiprocessing``). Each run builds the
migration graph, reads that schema's ``django_migrations`` and, on a release with no
new tenant migration, finds nothing to do: operators report 0.3-0.8 s per schema, about
13 minutes of no-op over 1,000 tenants. ``manage.py migrate_tenants`` (this module's
front end) instead:

1. **Asks the database which schemas are behind, in one statement per 500 schemas.**
   The expected set is every tenant-app migration in the graph on disk; one ``UNION ALL``
   counts, in each schema's ``django_migrations``, how many of those are recorded. A
   schema that has them all is current and is never touched again in this run.
   (Counting the expected names, rather than comparing a digest of every recorded name,
   tolerates rows that legitimately differ: migrations replaced by a squash, or removed
   from disk after everyone applied them.)
2. **Migrates only the behind schemas, in parallel processes**, each with the same
   ``migrate_schemas --schema`` a stock run would use, so the result is identical.
3. **Is resumable by construction.** The state is read from the database at every
   start, and each migration commits on its own, so a re-run after a failure migrates
   only what is still behind, from where it stopped.
4. **Keeps the spare-schema pool usable** (ADR 0004): spare schemas are scanned and
   migrated too, then stamped with the current migration fingerprint, so sign-ups keep
   claiming them right after a release; a spare that fails or has vanished is dropped
   from the pool (``ensure_spare_schemas`` refills it).

One run at a time: a PostgreSQL advisory lock refuses a second concurrent run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models import Q
from django_tenants.utils import quote_schema_name

from tenants.models import SpareSchema, Tenant
from tenants.provisioning import _tenant_app_labels, migration_fingerprint
from tenants.schema_ddl import schema_drop

TENANT, SPARE = "tenant", "spare"
CURRENT, BEHIND, UNINITIALISED, MISSING = "current", "behind", "uninitialised", "missing"
MIGRATED, FAILED, DROPPED = "migrated", "failed", "dropped"

# One status statement per this many schemas: each branch of the UNION ALL takes a lock
# on one table until the statement ends, and PostgreSQL's lock table holds about
# max_locks_per_transaction (64) x max_connections (100) entries for the whole server.
SCAN_CHUNK = 500
# The scan touches one table per schema; a backend caches every relation it has opened
# for as long as it lives (see tenants.background.recycling), so it reconnects this often.
SCAN_SCHEMAS_PER_CONNECTION = 2000


@dataclass(frozen=True)
class SchemaState:
    """Where one schema stands against the tenant migrations on disk."""

    schema_name: str
    kind: str  # TENANT or SPARE
    state: str  # CURRENT, BEHIND, UNINITIALISED (no django_migrations table) or MISSING
    unapplied: int  # expected migrations not recorded in the schema

    @property
    def needs_migrating(self) -> bool:
        return self.state in (BEHIND, UNINITIALISED)


@dataclass(frozen=True)
class Outcome:
    """What a run did to one schema."""

    schema_name: str
    kind: str
    status: str  # CURRENT (left alone), MIGRATED, FAILED or DROPPED
    seconds: float = 0.0
    detail: str = ""


def expected_migrations() -> frozenset[str]:
    """``app.name`` of every tenant-app migration a current schema has recorded."""
    labels = _tenant_app_labels()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(f"{app}.{name}" for app, name in loader.graph.nodes if app in labels)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _with_migrations_table(schemas: Sequence[str]) -> dict[str, bool]:
    """Existing schemas among ``schemas`` → whether each has a django_migrations table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.oid IS NOT NULL FROM pg_namespace n "
            "LEFT JOIN pg_class c ON c.relnamespace = n.oid "
            "AND c.relname = 'django_migrations' AND c.relkind IN ('r', 'p') "
            "WHERE n.nspname = ANY(%s)",
            [list(schemas)],
        )
        return dict(cursor.fetchall())


def _recorded_counts(schemas: Sequence[str], expected: frozenset[str]) -> dict[str, int]:
    """How many of ``expected`` each schema has recorded: one statement per chunk."""
    counts: dict[str, int] = {}
    since_reconnect = 0
    for chunk in _chunks(schemas, SCAN_CHUNK):
        # Schema names are quoted identifiers (quote_schema_name); values are parameters.
        branches = " UNION ALL ".join(
            "SELECT %s::text, count(DISTINCT m.app || '.' || m.name) "  # noqa: S608
            f"FROM {quote_schema_name(schema)}.django_migrations m "
            "JOIN expected e ON e.key = m.app || '.' || m.name"
            for schema in chunk
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH expected(key) AS (SELECT unnest(%s::text[])) {branches}",
                [sorted(expected), *chunk],
            )
            counts.update({name: int(count) for name, count in cursor.fetchall()})
        since_reconnect += len(chunk)
        if since_reconnect >= SCAN_SCHEMAS_PER_CONNECTION and not connection.in_atomic_block:
            connection.close()
            since_reconnect = 0
    return counts


def schema_states(
    schemas: Iterable[tuple[str, str]], *, expected: frozenset[str] | None = None
) -> list[SchemaState]:
    """The state of each ``(schema_name, kind)``, read from the database in bulk."""
    expected = expected_migrations() if expected is None else expected
    pairs = list(schemas)
    names = [name for name, _ in pairs]
    tables = _with_migrations_table(names)
    counts = _recorded_counts([n for n in names if tables.get(n)], expected)
    states = []
    for name, kind in pairs:
        if name not in tables:
            state, unapplied = MISSING, len(expected)
        elif not tables[name]:
            state, unapplied = UNINITIALISED, len(expected)
        else:
            unapplied = len(expected) - counts.get(name, 0)
            state = CURRENT if unapplied == 0 else BEHIND
        states.append(SchemaState(name, kind, state, unapplied))
    return states


def schemas_to_check(
    *, only: Sequence[str] | None = None, spares: bool = True
) -> list[tuple[str, str]]:
    """Every tenant schema (or those named in ``only``, by schema or subdomain), then every
    spare schema, as ``(schema_name, kind)``."""
    tenants = Tenant.objects.exclude(schema_name="public").order_by("schema_name")
    if only is not None:
        tenants = tenants.filter(Q(schema_name__in=only) | Q(subdomain__in=only))
    pairs = [(name, TENANT) for name in tenants.values_list("schema_name", flat=True)]
    if spares and only is None:
        pairs += [
            (name, SPARE)
            for name in SpareSchema.objects.order_by("id").values_list("schema_name", flat=True)
        ]
    return pairs


def last_line(text: str) -> str:
    """The last non-blank line of a command's output (what a per-tenant summary shows)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def migrate_schema(schema_name: str, kind: str, unapplied: int = 0) -> Outcome:
    """Run the tenant migrations in one schema; never raises. Module-level so a process
    pool can run it. (django-tenants writes migrate's own output to sys.stdout whatever
    the command is given, so it runs silently and ``unapplied`` comes from the scan.)"""
    from tenants.postgresql_backend.base import tenant_connection

    started = time.perf_counter()
    try:
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
        )
    except Exception as exc:
        detail = f"{type(exc).__name__}: {last_line(str(exc)) or exc!r}"
        status = FAILED
    else:
        detail, status = f"{unapplied} migration(s) applied", MIGRATED
    finally:
        db = tenant_connection()
        if not db.in_atomic_block:
            db.close()  # a failed migration can leave the connection unusable
        db.set_schema_to_public()
    return Outcome(schema_name, kind, status, time.perf_counter() - started, detail[:300])


def settle_spares(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Stamp the spares that are now current with the current fingerprint, and drop those
    that failed or vanished. A spare being claimed meanwhile (row locked) is left alone."""
    fingerprint = migration_fingerprint()
    settled = []
    for outcome in outcomes:
        if outcome.kind != SPARE:
            settled.append(outcome)
            continue
        with transaction.atomic():
            spare = (
                SpareSchema.objects.select_for_update(skip_locked=True)
                .filter(schema_name=outcome.schema_name)
                .first()
            )
            if spare is None:  # claimed by a sign-up meanwhile: it is a tenant now
                settled.append(outcome)
                continue
            if outcome.status in (CURRENT, MIGRATED):
                if spare.migration_fingerprint != fingerprint:
                    spare.migration_fingerprint = fingerprint
                    spare.save(update_fields=["migration_fingerprint"])
                settled.append(outcome)
                continue
            schema_drop(spare.schema_name)
            spare.delete()
            settled.append(
                Outcome(
                    outcome.schema_name,
                    SPARE,
                    DROPPED,
                    outcome.seconds,
                    f"dropped from the pool ({outcome.detail})",
                )
            )
    return settled


class AlreadyRunning(Exception):
    """Another ``migrate_tenants`` holds the lock."""


@contextlib.contextmanager
def run_lock() -> Iterator[None]:
    """Hold the advisory lock for the whole run (raise ``AlreadyRunning`` if taken).

    Transaction-level, in a transaction held open on a connection of its own (a
    session-level lock is not safe behind a transaction pooler, ADR 0014): the default
    connection is closed before the worker processes are forked (they must not share its
    socket). Ending that transaction, or the process, releases the lock. The workers never
    touch this one.
    """
    from tenants import locks

    with locks.try_xact_lock(locks.MIGRATE_TENANTS) as acquired:
        if not acquired:
            raise AlreadyRunning("another migrate_tenants is running")
        yield
