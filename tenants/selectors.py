from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from tenants.models import Domain, Tenant, TenantEventAction


def tenant_url(*, host: str, request=None) -> str:
    """Absolute URL of ``host``, with the scheme and port the request came in on."""
    scheme = request.scheme if request is not None else "https"
    port = request.get_port() if request is not None else ""
    default = {"http": "80", "https": "443"}.get(scheme)
    suffix = f":{port}" if port and port != default else ""
    return f"{scheme}://{host}{suffix}/"


def tenant_primary_host(*, tenant: Tenant) -> str | None:
    return (
        Domain.objects.filter(tenant=tenant, is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )


def tenant_admin_list() -> QuerySet[Tenant]:
    """Tenants with plan, primary domain and member count, in a single query."""
    primary = Domain.objects.filter(tenant=OuterRef("pk"), is_primary=True).values("domain")[:1]
    return Tenant.objects.select_related("plan", "organization").annotate(
        member_count=Count("organization__organization_users", distinct=True),
        primary_domain=Subquery(primary),
    )


def tenant_status_reason(*, tenant: Tenant) -> str:
    """Why the tenant is in its current status (the reason of its last status change)."""
    from tenants.models import TenantEvent

    detail = (
        TenantEvent.objects.filter(tenant=tenant, action=TenantEventAction.TENANT_STATUS_CHANGED)
        .order_by("-created", "-id")
        .values_list("detail", flat=True)
        .first()
    )
    return str((detail or {}).get("reason") or "")
