"""SPEC §4 error JSON everywhere; health endpoints on every host."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from shared_apps.core import health
from shared_apps.core.errors import ErrorCode, Message
from tests.support import bearer_client, error_of, host_client


def test_unknown_api_path_on_tenant_is_json_404(alpha):
    response = bearer_client(alpha).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.NOT_FOUND


def test_unknown_api_path_on_public_is_json_404(public_client):
    response = public_client.get("/api/v1/nothing/")
    assert response.status_code == 404
    assert error_of(response)["code"] == ErrorCode.NOT_FOUND


def test_unknown_html_path_is_html_404(public_client):
    response = public_client.get("/nothing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_method_not_allowed_is_json_405(alpha):
    response = bearer_client(alpha).delete("/api/v1/me/")
    assert response.status_code == 405
    assert error_of(response)["code"] == ErrorCode.METHOD_NOT_ALLOWED


def test_malformed_json_on_tenant_host(alpha):
    response = host_client(alpha.host).post(
        "/api/v1/auth/token/", data="{", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["message"] == Message.MALFORMED_JSON


def test_unsupported_media_type_is_415(public_client):
    response = public_client.post("/api/v1/signup/", data="a=b", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == ErrorCode.UNSUPPORTED_MEDIA_TYPE


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_body_too_large_is_413(public_client):
    response = public_client.post(
        "/api/v1/signup/", data='{"name": "' + "x" * 5000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == ErrorCode.PAYLOAD_TOO_LARGE


def test_throttled_is_429_with_retry_after(alpha, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "2/min"},
    }
    # A client address of its own: the counters are fresh without clearing the cache
    # (which shares Redis with other runs and with Celery).
    address = f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"
    client = APIClient(HTTP_HOST=alpha.host, REMOTE_ADDR=address)
    body = {"email": "x@y.test", "password": "nope"}
    statuses = [
        client.post("/api/v1/auth/token/", body, format="json").status_code for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    response = client.post("/api/v1/auth/token/", body, format="json")
    assert error_of(response)["code"] == ErrorCode.THROTTLED
    assert int(response["Retry-After"]) > 0
    # The counter is per tenant: beta's login endpoint is untouched.
    other = APIClient(HTTP_HOST="beta.localhost", REMOTE_ADDR=address)
    assert other.post("/api/v1/auth/token/", body, format="json").status_code == 401


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "unknown.example", "10.1.2.3"])
def test_healthz_on_every_host_without_io(db, host, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = host_client(host).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "unknown.example"])
def test_readyz_reports_ready(db, host):
    response = host_client(host).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_fails_when_migrations_are_missing(db, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.django_migrations WHERE app = 'tenants'")
    response = host_client("localhost").get("/readyz")
    assert response.status_code == 503
    assert "unapplied migrations" in response.json()["checks"]["database"]


def test_readyz_fails_when_redis_is_down(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
        }
    }
    response = host_client("localhost").get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "redis unavailable"


def test_readyz_fails_when_database_is_down(monkeypatch):
    def broken():
        return "database unavailable"

    monkeypatch.setattr(health, "check_database", broken)
    response = host_client("localhost").get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "database unavailable"


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "unknown.example"])
def test_static_files_are_served_on_any_host_without_routing(db, host, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = host_client(host).get("/static/admin/css/base.css")
    assert response.status_code == 200
