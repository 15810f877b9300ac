"""Organisations and memberships (public schema), on django-organizations' abstract models.

One organisation per tenant. A membership (``OrganizationUser``) carries the user's
role in that organisation; ``is_admin`` is kept in step with the role so that
django-organizations' own helpers keep working.
"""

from __future__ import annotations

from django.db import models
from organizations.abstract import (
    AbstractOrganization,
    AbstractOrganizationInvitation,
    AbstractOrganizationOwner,
    AbstractOrganizationUser,
)

from shared_apps.organizations.roles import Role
from tenants.scoping import TenantOwned, TenantOwnedManager


class Organization(AbstractOrganization):
    class Meta(AbstractOrganization.Meta):
        ordering = ["name"]


class OrganizationUser(TenantOwned, AbstractOrganizationUser):
    tenant_owner = "organization"
    objects: TenantOwnedManager = TenantOwnedManager()

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    class Meta(AbstractOrganizationUser.Meta):
        # unique_together (user, organization) comes from django-organizations.
        ordering = ["organization", "user"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="org_user_role_valid"
            ),
        ]

    def save(self, *args, **kwargs) -> None:
        self.is_admin = Role(self.role).at_least(Role.ADMIN)
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"is_admin"}
        super().save(*args, **kwargs)


class OrganizationOwner(AbstractOrganizationOwner):
    pass


class OrganizationInvitation(TenantOwned, AbstractOrganizationInvitation):
    """An invitation to join a tenant. Only a SHA-256 of its token is stored; the token
    itself travels once, in the email, and works once, before ``expires_at``."""

    tenant_owner = "organization"
    objects: TenantOwnedManager = TenantOwnedManager()

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractOrganizationInvitation.Meta):
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="org_invite_role_valid"
            ),
        ]

    @property
    def is_pending(self) -> bool:
        from django.utils import timezone

        return self.accepted_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )
