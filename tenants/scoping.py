"""Public-schema rows that belong to one tenant, read through one scoped manager.

Memberships, invitations and billing rows live in the public schema (users are global),
so schema isolation does not scope them: a query has to. ``TenantOwnedQuerySet.for_tenant``
is that query, written once. Each such model says how it points at its tenant
(``tenant_owner = "organization"`` or ``"tenant"``), gets ``objects =
TenantOwnedManager()``; ``tenant_owned_models()`` lists them, and the cross-tenant matrix
fails when a view reads one of their tables without the tenant's key in the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, Self

from django.apps import apps
from django.db import models

if TYPE_CHECKING:
    from tenants.models import Tenant

TenantOwner = Literal["organization", "tenant"]


class TenantOwnedQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> Self:
        """The rows of ``tenant`` only."""
        owner: TenantOwner = self.model.tenant_owner  # type: ignore[attr-defined]
        if owner == "organization":
            return self.filter(organization_id=tenant.organization_id)
        return self.filter(tenant_id=tenant.pk)


TenantOwnedManager = models.Manager.from_queryset(TenantOwnedQuerySet)


class TenantOwned:
    """Mixin for the models above; ``tenant_owner`` names the column that scopes them."""

    tenant_owner: ClassVar[TenantOwner]

    @classmethod
    def tenant_owner_column(cls) -> str:
        return f"{cls.tenant_owner}_id"


def tenant_owned_models() -> list[type[models.Model]]:
    """Every model whose rows belong to a tenant but live in the public schema."""
    return [model for model in apps.get_models() if issubclass(model, TenantOwned)]
