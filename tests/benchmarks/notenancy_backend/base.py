"""``make bench`` only: the database backend of the no-tenancy baseline.

Stock django-tenants' backend with its ``SET search_path`` switched off: the session's
search_path is fixed when it connects (libpq ``options``, see
``tests.benchmarks.settings.notenancy``), so nothing routes at all -- what a single-tenant
application costs. Tessera's backend routes every transaction (ADR 0014); this one is the
line it is measured against. Never deploy this.
"""

from __future__ import annotations

from django_tenants.postgresql_backend.base import DatabaseWrapper as StockTenantWrapper


class DatabaseWrapper(StockTenantWrapper):
    def _handle_search_path(self, cursor=None):
        """The search_path was set for the whole session at connect."""
