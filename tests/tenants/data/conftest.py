"""Fixtures of the tenant-data tests: the fake Stripe (with cancel) and a tenant of
their own to delete."""

from __future__ import annotations

import pytest
from django.db import connection

from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from tenants.provisioning import tenant_provision
from tests.factories import PASSWORD, UserFactory
from tests.stripe_fake import FakeStripe
from tests.support import TenantWorld


@pytest.fixture(scope="module")
def stripe_server():
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(stripe_server, settings):
    stripe_server.reset()
    settings.STRIPE_SECRET_KEY = "sk_test_51TesseraFakeKey0000000000000000"
    settings.STRIPE_API_BASE = stripe_server.base_url
    yield stripe_server
    import stripe

    stripe.api_base = "https://api.stripe.com"


@pytest.fixture
def doomed(db) -> TenantWorld:
    """A tenant of its own (from the spare pool, rolled back with the test), with an
    admin besides its owner."""
    tenant = tenant_provision(
        name="Doomed Ltd",
        subdomain="doomed",
        owner_email="owner@doomed.test",
        owner_password=PASSWORD,
        plan_code="starter",
    ).tenant
    admin = UserFactory(email="admin@doomed.test")
    OrganizationUser.objects.create(
        organization_id=tenant.organization_id, user=admin, role=Role.ADMIN
    )
    connection.set_schema_to_public()
    return TenantWorld(subdomain="doomed", host="doomed.localhost", schema_name=tenant.schema_name)
