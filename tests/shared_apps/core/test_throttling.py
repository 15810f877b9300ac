"""The Redis sliding-window throttle: its arithmetic, its atomicity under concurrent
requests, and its constant footprint in Redis."""

from __future__ import annotations

import random
import threading

import pytest
from django.core.cache import caches
from rest_framework.test import APIRequestFactory

from shared_apps.core.throttling import (
    ScopedIPThrottle,
    sliding_window_count,
    sliding_window_wait,
)


def test_the_previous_window_counts_for_the_share_still_inside_the_sliding_window():
    assert sliding_window_count(10, 4, elapsed=15, duration=60) == pytest.approx(11.5)
    assert sliding_window_count(10, 4, elapsed=0, duration=60) == 14
    assert sliding_window_count(0, 4, elapsed=59, duration=60) == 4


def test_wait_is_when_the_estimate_is_back_under_the_limit():
    # 10 x (1 - (15 + t) / 60) + 4 = 10  ->  t = 9
    assert sliding_window_wait(10, 4, elapsed=15, duration=60, limit=10) == pytest.approx(9)
    assert sliding_window_count(10, 4, elapsed=15 + 9, duration=60) == pytest.approx(10)
    # The current window alone is at the limit: only the next window helps.
    assert sliding_window_wait(3, 10, elapsed=15, duration=60, limit=10) == 45


class LoginView:
    throttle_scope = "login"


def _request(address: str):
    request = APIRequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR=address)
    request.tenant = None
    return request


def _address() -> str:
    return f"203.0.{random.randint(0, 255)}.{random.randint(1, 254)}"


def test_concurrent_requests_never_pass_more_than_the_rate(db, settings):
    """DRF's read-modify-write history lets concurrent requests overwrite each other's
    entries; an atomic counter admits exactly the rate."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "10/hour"},
    }
    address = _address()
    start = threading.Barrier(16)
    allowed: list[bool] = []

    def attempt():
        throttle = ScopedIPThrottle()
        start.wait()
        allowed.append(throttle.allow_request(_request(address), LoginView()))

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 10 and allowed.count(False) == 6
    # The rejected attempts counted too: the next one waits for the window to move on.
    throttle = ScopedIPThrottle()
    assert throttle.allow_request(_request(address), LoginView()) is False
    assert 0 < throttle.wait() <= 3600


def test_one_small_counter_per_window_whatever_the_rate(db, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "1000/hour"},
    }
    address = _address()
    for _ in range(50):
        throttle = ScopedIPThrottle()
        assert throttle.allow_request(_request(address), LoginView())
    client = caches["default"]._cache.get_client(write=True)
    keys = client.keys(f"*throttle_login_{address}:*")
    # One integer per window touched (two only if an hour began during the loop).
    assert 1 <= len(keys) <= 2
    assert sum(int(client.get(key)) for key in keys) == 50
    for key in keys:
        assert 3600 < client.ttl(key) <= 7200  # kept while it is the previous window


def test_one_tenants_counter_never_throttles_another(alpha, beta, settings):
    """The same user (users are global) at the same address: exhausting the rate on
    alpha leaves beta's counter untouched, and the keys live under each tenant's schema."""
    from django.db import connection

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": "2/hour"},
    }
    address = _address()

    def attempt(world) -> bool:
        request = _request(address)
        request.tenant = world.tenant
        connection.set_tenant(world.tenant)  # as the routing middleware leaves it
        try:
            return ScopedIPThrottle().allow_request(request, LoginView())
        finally:
            connection.set_schema_to_public()

    assert [attempt(alpha) for _ in range(3)] == [True, True, False]
    assert attempt(beta) is True
    client = caches["default"]._cache.get_client(write=True)
    keys = sorted(k.decode() for k in client.keys(f"*throttle_login_{address}:*"))
    assert len(keys) == 2
    assert any(k.startswith(alpha.tenant.schema_name) for k in keys)
    assert any(k.startswith(beta.tenant.schema_name) for k in keys)
