from __future__ import annotations

from django.db.models import QuerySet

from tenants.data.models import OPEN_DELETION_STATUSES, DataExport, TenantDeletionRequest
from tenants.models import Tenant


def data_export_list(*, tenant: Tenant) -> QuerySet[DataExport]:
    return DataExport.objects.for_tenant(tenant)


def deletion_open(*, tenant: Tenant) -> TenantDeletionRequest | None:
    """The tenant's scheduled (or purging) deletion, if any."""
    return (
        TenantDeletionRequest.objects.for_tenant(tenant)
        .filter(status__in=OPEN_DELETION_STATUSES)
        .first()
    )
