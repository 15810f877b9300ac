"""``make bench`` only: the database backend of the no-tenancy baseline.

Stock django-tenants' backend with its ``SET search_path`` switched off: the session's
search_path is fixed when it connects (libpq ``options``, see
``tests.benchmarks.settings.notenancy``), so nothing routes at all -- what a single-tenant
application costs. Tessera's backend routes every transaction (ADR 0014); this one is the
line it is measured against. Never deploy this.
"""

from __future__ import annotations

from django_tenants.postgresql_backend.base import DatabaseWrapper as StockTenantWrapper

from tenants.postgresql_backend.base import with_psycopg_timestamptz_loader


class DatabaseWrapper(StockTenantWrapper):
    def get_connection_params(self) -> dict:
        """Rows load as Tessera's do (psycopg's timestamptz loader): the pair measures
        routing, not the loader."""
        return with_psycopg_timestamptz_loader(super().get_connection_params(), self.timezone)

    def _handle_search_path(self, cursor=None):
        """The search_path was set for the whole session at connect."""
