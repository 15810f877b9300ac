from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from shared_apps.accounts.models import User
from shared_apps.organizations.models import OrganizationUser
from tenants.models import Tenant
from tests.factories import PASSWORD


def test_create_tenant_uses_the_signup_service(db, capsys):
    call_command(
        "create_tenant",
        "--name",
        "Kappa",
        "--subdomain",
        "kappa",
        "--owner-email",
        "k@kappa.test",
        "--owner-password",
        PASSWORD,
        "--plan",
        "pro",
    )
    tenant = Tenant.objects.get(subdomain="kappa")
    assert tenant.plan.code == "pro" and tenant.schema_name == "t_kappa"
    assert "host kappa.localhost" in capsys.readouterr().out


def test_create_tenant_reports_errors(db):
    with pytest.raises(CommandError, match="subdomain_taken"):
        call_command(
            "create_tenant",
            "--name",
            "A",
            "--subdomain",
            "alpha",
            "--owner-email",
            "new@alpha.test",
            "--owner-password",
            PASSWORD,
        )
    with pytest.raises(CommandError, match="subdomain: That subdomain is reserved"):
        call_command(
            "create_tenant",
            "--name",
            "A",
            "--subdomain",
            "www",
            "--owner-email",
            "new@alpha.test",
            "--owner-password",
            PASSWORD,
        )


def test_seed_demo_is_idempotent_and_prints_logins(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "http://acme.localhost:8000/accounts/login/" in out
    assert "http://globex.localhost:8000/accounts/login/" in out
    assert "owner@globex.example / tessera-demo-pass" in out
    assert "http://initech.localhost:8000/accounts/login/" in out
    assert Tenant.objects.get(subdomain="initech").plan.is_per_seat
    for subdomain in ("acme", "globex", "initech"):
        tenant = Tenant.objects.get(subdomain=subdomain)
        roles = dict(
            OrganizationUser.objects.filter(organization=tenant.organization).values_list(
                "user__email", "role"
            )
        )
        assert roles == {
            f"owner@{subdomain}.example": "owner",
            f"member@{subdomain}.example": "member",
        }
    assert User.objects.get(email="admin@tessera.localhost").is_superuser


def test_createsuperuser_with_email(db):
    call_command("createsuperuser", "--email", "root@tessera.test", "--noinput")
    user = User.objects.get(email="root@tessera.test")
    assert user.is_superuser and user.is_staff


def test_ensure_spare_schemas(db, capsys):
    from tenants.models import SpareSchema

    before = SpareSchema.objects.count()
    call_command("ensure_spare_schemas", "--count", str(before))
    assert "0 spare schema(s) created" in capsys.readouterr().out
