"""Entitlements (ADR 0025): what each plan includes, per-tenant overrides (deals), the
cache and its invalidation, and the checks holding through the API, an API key, a task
and the service itself — never reaching another tenant."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.entitlements import (
    Feature,
    entitlement_value,
    has_feature,
    require_feature,
    tenant_entitlements,
)
from billing.models import Plan, TenantEntitlementOverride
from shared_apps.core.errors import ErrorCode, FeatureNotInPlan
from tenant_apps.audit.models import AuditEntry
from tenant_apps.exports.models import Export, ExportStatus
from tests.support import bearer_client, error_of, host_client

ENDPOINTS = "/api/v1/webhooks/endpoints/"


def override(world, key: str, **fields) -> TenantEntitlementOverride:
    fields.setdefault("note", "test deal")
    return TenantEntitlementOverride.objects.create(tenant=world.tenant, key=key, **fields)


def key_client(world, role: str = "admin"):
    created = bearer_client(world, "owner").post(
        "/api/v1/api-keys/", {"name": "robot", "role": role}, format="json"
    )
    assert created.status_code == 201, created.content
    client = host_client(world.host)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {created.json()['key']}")
    return client


def test_seeded_plans_say_what_they_include(db):
    plans = {p.code: p for p in Plan.objects.all()}
    assert {"free", "starter", "pro", "team"} <= set(plans)
    assert "api_keys" not in plans["free"].features and "webhooks" not in plans["free"].features
    for code in ("starter", "pro", "team"):
        assert {"api_keys", "webhooks", "exports"} <= set(plans[code].features)
    assert plans["team"].is_per_seat and not plans["pro"].is_per_seat
    assert (plans["free"].audit_log_days, plans["pro"].audit_log_days) == (30, None)


def test_an_override_grants_and_takes_away_and_expires(alpha, beta):
    tenant = alpha.tenant  # starter: api keys and webhooks, no MFA enforcement
    assert not has_feature(tenant, Feature.MFA_ENFORCEMENT)
    override(alpha, "mfa_enforcement", enabled=True)
    override(alpha, "webhooks", enabled=False)
    override(alpha, "products", value=None)  # unlimited for this deal
    ent = tenant_entitlements(tenant)
    assert Feature.MFA_ENFORCEMENT in ent.features and Feature.WEBHOOKS not in ent.features
    assert ent.value("products") is None and ent.overridden == {
        "mfa_enforcement",
        "webhooks",
        "products",
    }
    # beta, on the same plan, is untouched.
    assert has_feature(beta.tenant, Feature.WEBHOOKS)
    assert not has_feature(beta.tenant, Feature.MFA_ENFORCEMENT)
    assert entitlement_value(beta.tenant, "products") == 1000
    # Past its expiry a deal no longer applies (and the cache entry does not outlive it).
    TenantEntitlementOverride.objects.filter(tenant=tenant).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    from billing.entitlements import entitlements_invalidate

    entitlements_invalidate(tenant_id=tenant.pk)  # .update() sends no signal
    assert has_feature(tenant, Feature.WEBHOOKS)
    assert not has_feature(tenant, Feature.MFA_ENFORCEMENT)


def test_cached_entitlements_follow_plan_and_override_changes(alpha, django_assert_num_queries):
    tenant = alpha.tenant
    assert has_feature(tenant, Feature.API_KEYS)
    with django_assert_num_queries(0):  # cached
        assert has_feature(tenant, Feature.API_KEYS)
    plan = Plan.objects.get(pk=tenant.plan_id)
    plan.features = [f for f in plan.features if f != "api_keys"]
    plan.save()  # the admin's save: every tenant's entry is forgotten
    assert not has_feature(tenant, Feature.API_KEYS)
    row = override(alpha, "api_keys", enabled=True)
    assert has_feature(tenant, Feature.API_KEYS)
    row.delete()
    assert not has_feature(tenant, Feature.API_KEYS)


def test_in_a_routed_transaction_a_hit_costs_no_sql_and_no_redis(
    alpha, beta, django_assert_num_queries
):
    """Requests (and tasks' tenant work) read entitlements from the process, stamped with
    the routing generation their routing statement returned (ADR 0026)."""
    from django.core.cache import caches
    from django.db import transaction

    from billing.entitlements import _cache_key

    tenant, other = alpha.tenant, beta.tenant
    with transaction.atomic():
        connection.route_to(tenant)  # what the request middleware does first
        first = tenant_entitlements(tenant)
        with django_assert_num_queries(0):
            assert tenant_entitlements(tenant) == first
            assert has_feature(tenant, Feature.WEBHOOKS)
        # Not through Redis: the shared cache never got an entry.
        assert caches["shared"].get(_cache_key(tenant.pk)) is None
        # Keyed by tenant: beta's answer is beta's own.
        override(beta, "webhooks", enabled=False)
        assert not has_feature(other, Feature.WEBHOOKS)
        assert has_feature(tenant, Feature.WEBHOOKS)


def test_changes_made_without_signals_reach_the_next_request(alpha, beta):
    """Another process's write, a bulk insert, a ``queryset.update()``: no signal runs
    here, the database triggers move the routing generation, the next request re-reads."""
    owner, other = bearer_client(alpha, "owner"), bearer_client(beta, "owner")
    assert owner.get(ENDPOINTS).status_code == 200  # cached now, in this process
    TenantEntitlementOverride.objects.bulk_create(  # no post_save: nothing invalidated
        [TenantEntitlementOverride(tenant=alpha.tenant, key="webhooks", enabled=False, note="x")]
    )
    response = owner.get(ENDPOINTS)
    assert response.status_code == 402, response.content
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    assert other.get(ENDPOINTS).status_code == 200  # beta's deal is its own
    TenantEntitlementOverride.objects.filter(tenant=alpha.tenant).update(enabled=True)
    assert owner.get(ENDPOINTS).status_code == 200
    TenantEntitlementOverride.objects.filter(tenant=alpha.tenant).delete()
    plan = Plan.objects.get(pk=alpha.tenant.plan_id)
    Plan.objects.filter(pk=plan.pk).update(features=[f for f in plan.features if f != "webhooks"])
    assert owner.get(ENDPOINTS).status_code == 402
    assert other.get(ENDPOINTS).status_code == 402  # same plan (starter)


def test_the_error_names_the_feature_and_plan(alpha):
    override(alpha, "exports", enabled=False)
    with pytest.raises(FeatureNotInPlan) as excinfo:
        require_feature(alpha.tenant, Feature.EXPORTS)
    assert excinfo.value.fields == {"feature": "exports", "plan": "starter"}
    assert excinfo.value.http_status == 402


# Every path goes through the service's check -----------------------------------------------


def test_api_feature_refused_and_granted_by_override(alpha, beta):
    override(alpha, "exports", enabled=False)
    response = bearer_client(alpha, "owner").post("/api/v1/exports/", {}, format="json")
    assert response.status_code == 402, response.content
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    assert error_of(response)["fields"]["feature"] == "exports"
    with tenant_context(alpha.tenant):
        assert not Export.objects.exists()  # nothing half-written
    # beta's exports are untouched by alpha's deal.
    assert (
        bearer_client(beta, "owner").post("/api/v1/exports/", {}, format="json").status_code == 202
    )


def test_api_key_paths_are_checked_in_the_services(alpha):
    client = key_client(alpha, "admin")
    override(alpha, "webhooks", enabled=False)
    response = client.post(
        ENDPOINTS,
        {"url": "https://hooks.example.com/x", "events": ["order.created"]},
        format="json",
    )
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    override(alpha, "products", value=0)
    response = client.post("/api/v1/products/", {"name": "x", "price": "1.00"}, format="json")
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.PLAN_LIMIT_EXCEEDED
    assert error_of(response)["fields"]["allowed"] == 0


def test_services_check_even_without_the_views(alpha):
    from tenant_apps.integrations import services as integration_services

    override(alpha, "webhooks", enabled=False)
    override(alpha, "api_keys", enabled=False)
    with tenant_context(alpha.tenant):
        with pytest.raises(FeatureNotInPlan):
            integration_services.endpoint_create(
                url="https://hooks.example.com/x", events=["order.created"], acting_user=None
            )
        with pytest.raises(FeatureNotInPlan):
            integration_services.api_key_create(
                name="n", role="viewer", acting_user=alpha.user("owner"), acting_role="owner"
            )


def test_a_task_path_is_checked_too(alpha):
    """An export requested while the plan had exports, run after they were taken away."""
    from tenant_apps.exports.tasks import run_export
    from tenants.background.headers import for_tenant

    with tenant_context(alpha.tenant):
        export = Export.objects.create(kind="orders_csv", requested_by=alpha.user("owner"))
    connection.set_schema_to_public()
    override(alpha, "exports", enabled=False)
    run_export.apply(args=[export.pk], headers=for_tenant(alpha.tenant))
    with tenant_context(alpha.tenant):
        export.refresh_from_db()
        assert export.status == ExportStatus.FAILED and "does not include exports" in export.error


# Audit log retention ------------------------------------------------------------------------


def test_audit_log_retention_task_uses_the_entitlement(alpha, beta):
    from billing.tasks import purge_audit_log
    from tenants.background.headers import for_tenant

    old = timezone.now() - dt.timedelta(days=200)
    for world in (alpha, beta):
        with tenant_context(world.tenant):
            AuditEntry.objects.create(action="old", object_type="t", object_id="1")
            AuditEntry.objects.create(action="recent", object_type="t", object_id="2")
            AuditEntry.objects.filter(action="old").update(created=old)
    # starter keeps 180 days: alpha's old row goes; a deal keeps beta's for a year.
    override(beta, "audit_log_days", value=365)
    result = purge_audit_log.apply(kwargs={"period": "t"}, headers=for_tenant(alpha.tenant))
    assert result.get() >= 1
    purge_audit_log.apply(kwargs={"period": "t"}, headers=for_tenant(beta.tenant))
    with tenant_context(alpha.tenant):
        assert not AuditEntry.objects.filter(action="old").exists()
        assert AuditEntry.objects.filter(action="recent").exists()
    with tenant_context(beta.tenant):
        assert AuditEntry.objects.filter(action="old").exists()


def test_unlimited_retention_keeps_everything(alpha):
    from tenant_apps.audit.services import audit_log_purge

    override(alpha, "audit_log_days", value=None)
    with tenant_context(alpha.tenant):
        AuditEntry.objects.create(action="ancient", object_type="t", object_id="1")
        AuditEntry.objects.filter(action="ancient").update(
            created=timezone.now() - dt.timedelta(days=5000)
        )
        assert audit_log_purge(tenant=alpha.tenant) == 0
        assert AuditEntry.objects.filter(action="ancient").exists()


# The billing API and the admin ------------------------------------------------------------


def test_billing_api_lists_entitlements(alpha):
    override(alpha, "mfa_enforcement", enabled=True)
    body = bearer_client(alpha, "owner").get("/api/v1/billing/").json()
    rows = {row["key"]: row for row in body["entitlements"]}
    assert rows["mfa_enforcement"]["included"] and rows["mfa_enforcement"]["overridden"]
    assert rows["products"]["value"] == 1000 and rows["products"]["usage"] is not None
    assert rows["audit_log_days"]["value"] == 180
    assert body["seats"] is None  # starter is a flat plan


def test_platform_admin_edits_plans_and_overrides(alpha, client):
    from shared_apps.accounts.models import User

    admin = User.objects.create_superuser(email="root@tessera.test", password="x-Very-long-1")
    client.force_login(admin)
    client.defaults["HTTP_HOST"] = "localhost"
    from django.conf import settings

    base = "/" + settings.DJANGO_ADMIN_URL
    response = client.post(
        f"{base}billing/tenantentitlementoverride/add/",
        {
            "tenant": alpha.tenant.pk,
            "key": "mfa_enforcement",
            "enabled": "on",
            "value": "",
            "expires_at_0": "",
            "expires_at_1": "",
            "note": "Deal #42",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    row = TenantEntitlementOverride.objects.get(tenant=alpha.tenant)
    assert row.created_by == admin and row.note == "Deal #42"
    assert has_feature(alpha.tenant, Feature.MFA_ENFORCEMENT)
    refused = client.post(
        f"{base}billing/tenantentitlementoverride/add/",
        {"tenant": alpha.tenant.pk, "key": "teleport", "note": "x"},
    )
    assert (
        refused.status_code == 200
        and not TenantEntitlementOverride.objects.filter(key="teleport").exists()
    )
