"""Catches reads of tenant-owned public-schema rows that are not scoped to the tenant.

``tenants.scoping`` gives memberships, invitations and billing rows one scoped manager
(``for_tenant``). This recorder watches every statement a block of code sends and
reports each read of one of those tables whose SQL does not filter on the table's tenant
column with the tenant's own id — however the query was built.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection

from tenants.models import Tenant
from tenants.scoping import tenant_owned_models


@dataclass
class ScopeRecorder:
    tenant: Tenant
    unscoped: list[str] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        if not many:
            self.check(sql, params)
        return execute(sql, params, many, context)

    def check(self, sql: str, params) -> None:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            return  # writes by primary key follow a scoped read; reads are what leak
        for model in tenant_owned_models():
            table = model._meta.db_table
            if f'"{table}"' not in sql:
                continue
            value = (
                self.tenant.organization_id
                if model.tenant_owner == "organization"  # type: ignore[attr-defined]
                else self.tenant.pk
            )
            predicate = re.compile(
                rf'"{re.escape(table)}"\."{model.tenant_owner}_id" (= %s|IN \()'  # type: ignore[attr-defined]
            )
            if not predicate.search(sql) or value not in list(params or ()):
                self.unscoped.append(f"{table}: {sql[:300]}")


@contextmanager
def reads_scoped_to(tenant: Tenant):
    """Fail if the block reads a tenant-owned public table without scoping it to ``tenant``."""
    recorder = ScopeRecorder(tenant)
    with connection.execute_wrapper(recorder):
        yield recorder
    assert not recorder.unscoped, "unscoped reads of tenant-owned rows:\n" + "\n".join(
        recorder.unscoped
    )
