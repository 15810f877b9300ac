"""Sign-up provisioning: atomic, fast path through the spare pool, clear errors."""

from __future__ import annotations

import pytest
from django.db import connection

from shared_apps.accounts.models import User
from shared_apps.core.errors import EmailRegistered, SubdomainTaken, ValidationFailed
from shared_apps.organizations.models import Organization, OrganizationOwner, OrganizationUser
from tenants import provisioning
from tenants.models import Domain, SpareSchema, Tenant, TenantEvent
from tenants.provisioning import migration_fingerprint, tenant_provision
from tests.factories import PASSWORD, UserFactory


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def table_names(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "orgs": Organization.objects.count(),
        "members": OrganizationUser.objects.count(),
        "tenants": Tenant.objects.count(),
        "domains": Domain.objects.count(),
        "spares": SpareSchema.objects.count(),
    }


def provision(**overrides):
    args = {
        "name": "Gamma Inc",
        "subdomain": "gamma",
        "owner_email": "founder@gamma.test",
        "owner_password": PASSWORD,
        "plan_code": "starter",
    }
    args.update(overrides)
    return tenant_provision(**args)


def test_provisioning_creates_everything_from_a_spare(db):
    spares_before = SpareSchema.objects.count()
    assert spares_before >= 1
    spare_name = SpareSchema.objects.first().schema_name

    result = provision()

    tenant = result.tenant
    assert tenant.schema_name == "t_gamma"
    assert tenant.status == "trialing" and tenant.trial_ends_at is not None
    assert tenant.plan.code == "starter"
    assert result.domain.domain == "gamma.localhost" and result.domain.is_primary
    assert result.user_created and result.user.check_password(PASSWORD)
    assert result.membership.role == "owner"
    assert (
        OrganizationOwner.objects.get(organization=tenant.organization).organization_user
        == result.membership
    )
    assert schema_exists("t_gamma") and not schema_exists(spare_name)
    assert "django_session" in table_names("t_gamma")
    assert SpareSchema.objects.count() == spares_before - 1
    event = TenantEvent.objects.get(tenant=tenant)
    assert event.action == "tenant.provisioned" and event.detail["used_spare_schema"] is True


def test_existing_user_with_matching_password_is_reused(db):
    user = UserFactory(email="founder@gamma.test")
    result = provision()
    assert result.user == user and not result.user_created


def test_existing_user_with_wrong_password_is_refused_and_nothing_written(db):
    UserFactory(email="founder@gamma.test")
    before = counts()
    with pytest.raises(EmailRegistered):
        provision(owner_password="another-long-password")
    assert counts() == before
    assert not schema_exists("t_gamma")


def test_taken_subdomain_is_a_conflict(db):
    provision()
    with pytest.raises(SubdomainTaken):
        provision(owner_email="other@gamma.test")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subdomain": "ab"}, "subdomain"),
        ({"subdomain": "www"}, "subdomain"),
        ({"subdomain": "Bad_Sub"}, "subdomain"),
        ({"subdomain": "x" * 64}, "subdomain"),
        ({"name": "  "}, "name"),
        ({"owner_email": "not-an-email"}, "email"),
        ({"owner_password": "short"}, "password"),
        ({"owner_password": ""}, "password"),
        ({"plan_code": "platinum"}, "plan"),
    ],
)
def test_bad_input_is_rejected_and_leaves_nothing(db, overrides, field):
    before = counts()
    with pytest.raises(ValidationFailed) as excinfo:
        provision(**overrides)
    assert field in excinfo.value.fields
    assert counts() == before


def test_failure_after_schema_creation_rolls_everything_back(db, monkeypatch):
    """The last step fails: no user, organisation, tenant, domain or schema survives,
    and the spare schema is back in the pool."""
    before = counts()
    spare_names = set(SpareSchema.objects.values_list("schema_name", flat=True))

    def boom(**kwargs):
        raise RuntimeError("membership store down")

    monkeypatch.setattr(provisioning.OrganizationOwner.objects, "create", boom)
    with pytest.raises(RuntimeError):
        provision()
    assert counts() == before
    assert not schema_exists("t_gamma")
    assert all(schema_exists(name) for name in spare_names)


def test_failure_in_schema_creation_leaves_nothing(db, monkeypatch):
    before = counts()

    def broken_install(schema_name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema_name}"')
            cursor.execute(f'CREATE TABLE "{schema_name}".half_done (id int)')
        raise RuntimeError("migration failed half way")

    monkeypatch.setattr(provisioning, "_schema_install", broken_install)
    with pytest.raises(RuntimeError):
        provision()
    assert counts() == before
    assert not schema_exists("t_gamma")


def test_empty_pool_falls_back_to_migrating(db):
    SpareSchema.objects.all().delete()  # rows only; rolled back after the test
    result = provision()
    assert "django_session" in table_names(result.tenant.schema_name)
    assert TenantEvent.objects.get(tenant=result.tenant).detail["used_spare_schema"] is False


def test_stale_spares_are_never_used(db):
    SpareSchema.objects.update(migration_fingerprint="from-older-code")
    result = provision()
    assert TenantEvent.objects.get(tenant=result.tenant).detail["used_spare_schema"] is False


def test_spare_dropped_by_hand_is_skipped(db):
    first = SpareSchema.objects.first()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA "{first.schema_name}" CASCADE')
    result = provision()
    assert TenantEvent.objects.get(tenant=result.tenant).detail["used_spare_schema"] is True
    assert not SpareSchema.objects.filter(pk=first.pk).exists()


def test_schema_name_collision_with_a_leftover_schema_gets_another_name(db):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_gamma"')
    result = provision()
    assert result.tenant.schema_name.startswith("h_gamma_")


def test_fingerprint_is_stable_and_hex():
    assert migration_fingerprint() == migration_fingerprint()
    assert len(migration_fingerprint()) == 64


def test_replenish_drops_stale_and_tops_up(db):
    from tenants.provisioning import spare_schemas_replenish

    stale = SpareSchema.objects.first()
    SpareSchema.objects.filter(pk=stale.pk).update(migration_fingerprint="old")
    created = spare_schemas_replenish(target=SpareSchema.objects.count())
    assert created == 1
    assert not schema_exists(stale.schema_name)
    assert not SpareSchema.objects.filter(migration_fingerprint="old").exists()
