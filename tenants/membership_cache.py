"""Memberships cached per process, validated by the routing generation (as hosts are).

Every tenant API request needs the acting user's membership (its user, role and the
organisation's active flag: ``membership_for``, one query). This cache keeps it in
process, keyed by ``(tenant schema, user id)`` and stamped with the routing generation
under which it was read. The generation is the one the request's routing statement
already returned (``DatabaseWrapper.routing_generation``, read at the start of the
request's transaction), so a hit costs no SQL at all, and an entry stamped with any
other generation is reloaded.

The generation moves on every change that can change a membership answer, in any
process: database triggers (``organizations`` migration 0003) bump it on any write to
memberships (added, role changed, removed) or organisations, and on any change to a
user row other than ``last_login`` (deactivated, new password, new e-mail or name), on
top of the tenant and domain triggers the host cache relies on. So a removed member is
refused on the next request in every process, exactly as a moved domain is.

Outside a routed transaction (no generation to validate against: commands, tasks, a
connection in autocommit) the cache is not used and the query runs as before. Only
positive answers are kept (a non-member costs the query, and an LRU bound keeps a flood
of user ids from growing it). Each hit hands out its own copy of the user, so that a
view changing ``request.user`` never changes what the next request sees.

The host cache (``tenants.resolution.TenantResolver``) and this one may later share one
generation-checked LRU class; this one is kept small and separate until then.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING

from django.conf import settings

from shared_apps.organizations.selectors import Membership, membership_for
from tenants.lru import LockedLRU
from tenants.postgresql_backend.base import tenant_connection

if TYPE_CHECKING:
    from tenants.models import Tenant


class MembershipCache(LockedLRU[tuple[str, str], tuple[Membership, int]]):
    """Bounded, thread-safe ``(schema, user id) -> (membership, generation)`` cache."""

    def membership(self, *, user_id: int | str, tenant: Tenant) -> Membership | None:
        """``membership_for(user_id, tenant)``, from the cache when the entry was read
        under the generation this transaction routed with."""
        # None outside a routed transaction, and on a backend that does not route (the
        # benchmark's no-tenancy baseline): nothing to validate by, so no cache.
        generation = getattr(tenant_connection(), "routing_generation", None)
        if generation is None:
            return membership_for(user_id=int(user_id), tenant=tenant)
        key = (tenant.schema_name, str(user_id))
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and cached[1] == generation:
            hit = cached[0]
            return replace(hit, user=copy.copy(hit.user))
        # Read after the generation was: a change committed in between is either seen
        # here, or has bumped the generation past this stamp (reloaded next time).
        membership = membership_for(user_id=int(user_id), tenant=tenant)
        with self._lock:
            if membership is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (
                    replace(membership, user=copy.copy(membership.user)),
                    generation,
                )
        return membership


memberships = MembershipCache(maxsize=getattr(settings, "MEMBERSHIP_CACHE_SIZE", 10_000))
