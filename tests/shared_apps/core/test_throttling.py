"""The Redis sliding-window throttle: its arithmetic, its atomicity under concurrent
requests, and its constant footprint in Redis."""

from __future__ import annotations

import itertools
import math
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


def test_wait_is_when_the_next_request_fits():
    # Refused at 15 s into a window with 10 before it and 4 (this one included) in it,
    # limit 10: the next request fits when 10 x (1 - (15 + t) / 60) + 5 <= 10, t = 15.
    assert sliding_window_wait(10, 4, elapsed=15, duration=60, limit=10) == pytest.approx(15)
    assert sliding_window_count(10, 4 + 1, elapsed=15 + 15, duration=60) == pytest.approx(10)
    # The current window alone is over the limit: it must weigh less as the previous
    # one. 11 x (1 - x / 60) + 1 <= 10 -> x = 120 / 11 s into the next window.
    assert sliding_window_wait(3, 11, elapsed=15, duration=60, limit=10) == pytest.approx(
        45 + 120 / 11
    )
    # A limit of 1: only once this window has slid out entirely.
    assert sliding_window_wait(0, 2, elapsed=10, duration=60, limit=1) == pytest.approx(110)


def _login_rate(settings, rate: str) -> None:
    """The login scope's rate for this test (pytest-django restores the settings)."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "login": rate},
    }


class LoginView:
    throttle_scope = "login"


def _request(address: str):
    request = APIRequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR=address)
    request.tenant = None
    return request


def _address() -> str:
    return f"203.0.{random.randint(0, 255)}.{random.randint(1, 254)}"


def test_a_client_that_obeys_retry_after_gets_in_and_not_before(db, settings):
    """A burst of ``limit + extra`` requests at one instant: the refused ones get a
    Retry-After (whole seconds, as DRF sends it); a retry then is admitted, and a
    retry clearly before it is not. Real Redis, the throttle's clock moved by hand;
    limits 1-30, bursts at the start, middle and end of a window."""

    def burst(address: str, start: float, limit: int, extra: int) -> float:
        results, throttle = [], None
        for _ in range(limit + extra):
            throttle = ScopedIPThrottle()
            throttle.timer = lambda: start
            results.append(throttle.allow_request(_request(address), LoginView()))
        assert results == [True] * limit + [False] * extra
        return math.ceil(throttle.wait())

    def attempt_at(address: str, moment: float) -> bool:
        throttle = ScopedIPThrottle()
        throttle.timer = lambda: moment
        return throttle.allow_request(_request(address), LoginView())

    # The smallest, a middling and the largest limit, each at the three points of the
    # window and with one or several refused requests: the rounding to whole seconds
    # and the sliding share are what can go wrong, not how many limits are tried.
    for limit, into_window, extra in itertools.product([1, 3, 30], [0, 15, 59.5], [1, 5]):
        _login_rate(settings, f"{limit}/min")
        start = 1_000_000 * 60 + random.randint(0, 10_000) * 60 + into_window
        on_time, early = _address(), _address()
        retry_after = burst(on_time, start, limit, extra)
        assert retry_after > 0 and retry_after == burst(early, start, limit, extra)
        assert attempt_at(on_time, start + retry_after) is True, (limit, into_window, extra)
        if retry_after > 2:
            assert attempt_at(early, start + retry_after - 2) is False, (limit, into_window)


def test_concurrent_requests_never_pass_more_than_the_rate(db, settings):
    """DRF's read-modify-write history lets concurrent requests overwrite each other's
    entries; an atomic counter admits exactly the rate."""
    _login_rate(settings, "10/hour")
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
    # The rejected attempts counted too: the next one waits for them to slide out.
    throttle = ScopedIPThrottle()
    assert throttle.allow_request(_request(address), LoginView()) is False
    assert 0 < throttle.wait() <= 2 * 3600  # at most until this window has slid out


def test_one_small_counter_per_window_whatever_the_rate(db, settings):
    _login_rate(settings, "1000/hour")
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


def test_the_count_survives_a_redis_that_lost_the_script(db, settings):
    """The counting script runs by its SHA; after a Redis restart or SCRIPT FLUSH it is
    loaded again and the count goes on (no request let through uncounted)."""
    _login_rate(settings, "3/hour")
    address = _address()
    client = caches["default"]._cache.get_client(write=True)
    assert ScopedIPThrottle().allow_request(_request(address), LoginView())
    client.script_flush()
    assert ScopedIPThrottle().allow_request(_request(address), LoginView())
    assert ScopedIPThrottle().allow_request(_request(address), LoginView())
    assert not ScopedIPThrottle().allow_request(_request(address), LoginView())
    keys = client.keys(f"*throttle_login_{address}:*")  # two if an hour began meanwhile
    assert sum(int(client.get(key)) for key in keys) == 4


def test_one_tenants_counter_never_throttles_another(alpha, beta, settings):
    """The same user (users are global) at the same address: exhausting the rate on
    alpha leaves beta's counter untouched, and the keys live under each tenant's schema."""
    from django.db import connection

    _login_rate(settings, "2/hour")
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
