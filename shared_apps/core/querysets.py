"""Querysets a selector builds once per process.

A tenant's rows are reached through the transaction's ``search_path``
(``tenants.postgresql_backend``), never through its SQL, so a queryset that depends on
nothing but the models -- its joins, annotations, select_related -- is the same for every
tenant and every request. ``built_once`` builds such a queryset on its first call and
hands every call a fresh clone (``.all()``), so callers chain filters, orderings and
slices as before and the template itself is never evaluated. Building it is most of what
a list's queryset costs before it is compiled: ``annotate`` resolves each aggregate's
joins (``Count("items")``: a join and a GROUP BY), per request, 3-5 % of an API list
request's CPU (issue 15).

Only for querysets that read no request, user, tenant, time or setting, and hold no
``Prefetch`` (prefetching adds the instances it loads to its queryset's hints): those are
built per call as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def built_once(build: Callable[[], QuerySet[M]]) -> Callable[[], QuerySet[M]]:
    """``build()``'s queryset, built on the first call; each call returns a clone."""
    template: list[QuerySet[M]] = []

    @functools.wraps(build)
    def selector() -> QuerySet[M]:
        if not template:  # two threads racing here build it twice: the same queryset
            template.append(build())
        clone = template[0].all()
        # A clone shares its source's hints dict: never let one reach the template's.
        clone._hints = {}  # type: ignore[attr-defined]
        return clone

    return selector
