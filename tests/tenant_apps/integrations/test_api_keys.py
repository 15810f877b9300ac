"""API keys (SPEC §11): issued once, hashed, bound to their tenant, through the member gate."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from billing.models import Plan
from shared_apps.core.errors import ErrorCode
from tenant_apps.audit.models import AuditEntry
from tenant_apps.integrations.authentication import INVALID_KEY, touch_last_used
from tenant_apps.integrations.models import ApiKey
from tenants.models import Tenant
from tests.support import bearer_client, error_of, host_client

KEYS = "/api/v1/api-keys/"


def key_client(host: str, key: str):
    client = host_client(host)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def issue(world, role: str = "member", *, by: str = "owner", **extra) -> dict:
    response = bearer_client(world, by).post(
        KEYS, {"name": f"{role} key", "role": role, **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def in_schema(world):
    connection.set_tenant(world.tenant)


def test_create_shows_the_key_once_and_stores_only_its_hash(alpha):
    body = issue(alpha, "member")
    assert set(body) == {
        "id",
        "name",
        "prefix",
        "role",
        "created",
        "expires_at",
        "last_used_at",
        "revoked",
        "revoked_at",
        "key",
    }
    assert body["key"].startswith(body["prefix"] + ".") and body["role"] == "member"
    in_schema(alpha)
    row = ApiKey.objects.get(pk=body["id"])
    assert body["key"] not in row.hashed_key
    assert row.hashed_key == "sha512$$" + hashlib.sha512(body["key"].encode()).hexdigest()
    connection.set_schema_to_public()
    listed = bearer_client(alpha, "owner").get(KEYS).json()["results"]
    assert [k["id"] for k in listed] == [body["id"]] and "key" not in listed[0]
    detail = bearer_client(alpha, "admin").get(f"{KEYS}{body['id']}/").json()
    assert "key" not in detail and detail["prefix"] == body["prefix"]


def test_key_works_on_its_tenant_with_its_role(alpha):
    key = issue(alpha, "member")["key"]
    client = key_client(alpha.host, key)
    assert client.get("/api/v1/products/").status_code == 200
    created = client.post("/api/v1/products/", {"name": "Key-made", "price": "3.00"}, format="json")
    assert created.status_code == 201, created.content
    # member role: no access to admin-only routes (audit log, keys)
    assert error_of(client.get("/api/v1/audit-log/"))["code"] == ErrorCode.PERMISSION_DENIED
    assert client.post(KEYS, {"name": "x", "role": "viewer"}, format="json").status_code == 403


def test_key_is_refused_on_another_tenant_host(alpha, beta):
    key = issue(alpha, "admin")["key"]
    response = key_client(beta.host, key).get("/api/v1/products/")
    assert response.status_code == 401
    assert error_of(response) == {
        "code": ErrorCode.AUTHENTICATION_FAILED,
        "message": INVALID_KEY,
        "fields": {},
    }
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "header",
    ["Api-Key ", "Api-Key nodot", "Api-Key abc.def", "Api-Key " + "x" * 500 + ".y"],
)
def test_malformed_keys_are_401(alpha, header):
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/products/")
    assert response.status_code == 401, response.content
    assert error_of(response)["code"] in (
        ErrorCode.AUTHENTICATION_FAILED,
        ErrorCode.NOT_AUTHENTICATED,
    )


def test_revoked_key_is_401_and_stays_listed(alpha):
    body = issue(alpha, "member")
    owner = bearer_client(alpha, "owner")
    assert owner.delete(f"{KEYS}{body['id']}/").status_code == 204
    assert key_client(alpha.host, body["key"]).get("/api/v1/products/").status_code == 401
    listed = owner.get(f"{KEYS}{body['id']}/").json()
    assert listed["revoked"] is True and listed["revoked_at"]
    again = owner.delete(f"{KEYS}{body['id']}/")
    assert again.status_code == 409 and error_of(again)["code"] == "api_key_revoked"


def test_expired_key_is_401(alpha):
    body = issue(alpha, "member", expires_at=(timezone.now() + timedelta(hours=1)).isoformat())
    client = key_client(alpha.host, body["key"])
    assert client.get("/api/v1/products/").status_code == 200
    in_schema(alpha)
    ApiKey.objects.filter(pk=body["id"]).update(expiry_date=timezone.now() - timedelta(seconds=1))
    connection.set_schema_to_public()
    assert client.get("/api/v1/products/").status_code == 401


def test_expiry_in_the_past_is_a_400(alpha):
    response = bearer_client(alpha, "owner").post(
        KEYS,
        {"name": "old", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and "expires_at" in error_of(response)["fields"]


def test_role_never_above_the_creator(alpha):
    admin = bearer_client(alpha, "admin")
    owner_role = admin.post(KEYS, {"name": "o", "role": "owner"}, format="json")
    assert owner_role.status_code == 400 and "role" in error_of(owner_role)["fields"]
    # an admin key cannot mint an admin... it can (same role); it cannot mint above it
    admin_key = issue(alpha, "admin", by="admin")["key"]
    through_key = key_client(alpha.host, admin_key)
    assert through_key.post(KEYS, {"name": "a", "role": "admin"}, format="json").status_code == 201
    # members and viewers cannot create keys at all (admin or owner only)
    member = bearer_client(alpha, "member").post(
        KEYS, {"name": "m", "role": "viewer"}, format="json"
    )
    assert member.status_code == 403


def test_a_key_cannot_escalate_through_key_creation(alpha):
    """A key acting with a role cannot create a key above that role."""
    from shared_apps.organizations.roles import Role
    from tenant_apps.integrations import services
    from tenant_apps.integrations.authentication import ApiKeyPrincipal

    in_schema(alpha)
    member_key = ApiKey.objects.create_key(name="m", role="member")[0]
    with pytest.raises(services.RoleAboveOwn):
        services.api_key_create(
            name="up",
            role="admin",
            acting_user=ApiKeyPrincipal(member_key),
            acting_role=Role.MEMBER,
        )


def test_viewer_key_cannot_write(alpha):
    key = issue(alpha, "viewer")["key"]
    client = key_client(alpha.host, key)
    assert client.get("/api/v1/orders/").status_code == 200
    response = client.post("/api/v1/customers/", {"name": "N", "email": "n@x.test"}, format="json")
    assert response.status_code == 403 and error_of(response)["code"] == ErrorCode.PERMISSION_DENIED


def test_keys_cannot_use_people_endpoints(alpha):
    key = issue(alpha, "admin")["key"]
    client = key_client(alpha.host, key)
    for url in ("/api/v1/me/", "/api/v1/members/", "/api/v1/invitations/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert error_of(response)["code"] == "api_key_not_allowed"


def test_writes_with_a_key_are_audited_with_the_key_as_actor(alpha):
    body = issue(alpha, "member")
    key_client(alpha.host, body["key"]).post(
        "/api/v1/customers/", {"name": "Via key", "email": "via@key.test"}, format="json"
    )
    in_schema(alpha)
    entry = AuditEntry.objects.get(action="customer.created")
    assert entry.actor_id is None and entry.actor_api_key_id == body["id"]
    created = AuditEntry.objects.get(action="api_key.created")
    assert (
        created.actor_id == alpha.user("owner").pk and created.changes["prefix"] == body["prefix"]
    )
    connection.set_schema_to_public()
    log = bearer_client(alpha, "owner").get("/api/v1/audit-log/?action=customer.created").json()
    assert log["results"][0]["actor_api_key_name"] == "member key"
    assert log["results"][0]["actor_api_key_prefix"] == body["prefix"]


def test_revoke_is_audited(alpha):
    body = issue(alpha, "viewer")
    bearer_client(alpha, "admin").delete(f"{KEYS}{body['id']}/")
    in_schema(alpha)
    entry = AuditEntry.objects.get(action="api_key.revoked")
    assert entry.actor_id == alpha.user("admin").pk and entry.object_id == str(body["id"])


def test_read_only_tenant_refuses_key_writes(alpha):
    key = issue(alpha, "member")["key"]
    Tenant.objects.filter(schema_name=alpha.schema_name).update(status="suspended")
    client = key_client(alpha.host, key)
    assert client.get("/api/v1/products/").status_code == 200
    response = client.post("/api/v1/products/", {"name": "No", "price": "1.00"}, format="json")
    assert response.status_code == 402 and error_of(response)["code"] == ErrorCode.TENANT_SUSPENDED


def test_free_plan_has_no_api_keys(alpha):
    key = issue(alpha, "member")["key"]
    Tenant.objects.filter(schema_name=alpha.schema_name).update(plan=Plan.objects.get(code="free"))
    response = bearer_client(alpha, "owner").get(KEYS)
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    create = bearer_client(alpha, "owner").post(
        KEYS, {"name": "n", "role": "viewer"}, format="json"
    )
    assert error_of(create)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    used = key_client(alpha.host, key).get("/api/v1/products/")
    assert used.status_code == 402 and error_of(used)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN


def test_last_used_is_written_at_most_once_a_minute(alpha, django_assert_num_queries):
    body = issue(alpha, "viewer")
    client = key_client(alpha.host, body["key"])
    client.get("/api/v1/products/")
    in_schema(alpha)
    first = ApiKey.objects.get(pk=body["id"]).last_used_at
    assert first is not None
    connection.set_schema_to_public()
    client.get("/api/v1/products/")
    in_schema(alpha)
    assert ApiKey.objects.get(pk=body["id"]).last_used_at == first
    key = ApiKey.objects.get(pk=body["id"])
    with django_assert_num_queries(0):
        touch_last_used(key)  # used seconds ago: no write at all
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    key.last_used_at = first - timedelta(minutes=2)
    with django_assert_num_queries(1):
        touch_last_used(key)
    assert ApiKey.objects.get(pk=body["id"]).last_used_at > first


def test_throttle_counts_per_key(alpha, monkeypatch):
    from shared_apps.core.throttling import TenantUserRateThrottle

    # The keys are issued before the rate is lowered (the owner issuing them is throttled
    # too). Their ids come from a session database cloned afresh each run, so the counters
    # a previous run left in Redis under the same ids are deleted -- those keys only, never
    # cache.clear(), which would flush what the other xdist worker is using.
    first, second = issue(alpha, "viewer"), issue(alpha, "viewer")
    client = caches["default"]._cache.get_client(write=True)
    for issued in (first, second):
        for stale in client.keys(f"*throttle_user_api-key:{issued['id']}:*"):
            client.delete(stale)
    one = key_client(alpha.host, first["key"])
    two = key_client(alpha.host, second["key"])
    rates = {**TenantUserRateThrottle.THROTTLE_RATES, "user": "2/min"}
    monkeypatch.setattr(TenantUserRateThrottle, "THROTTLE_RATES", rates)
    assert [one.get("/api/v1/products/").status_code for _ in range(3)] == [200, 200, 429]
    assert two.get("/api/v1/products/").status_code == 200
