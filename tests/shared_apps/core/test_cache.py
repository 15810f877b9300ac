"""The Redis cache backend (shared_apps/core/cache.py) against the suite's real Redis."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches

from shared_apps.core.cache import RedisCache


def test_one_client_per_pool_is_reused_across_operations():
    cache = caches["default"]
    backend = cache._cache
    first = backend.get_client(write=True)
    cache.set("reuse-probe", {"n": 1}, 30)
    assert cache.get("reuse-probe") == {"n": 1}
    assert backend.get_client(write=True) is first
    assert backend.get_client() is first  # one server: reads use the same pool and client
    assert first.connection_pool is backend._pools[0]
    cache.delete("reuse-probe")


def test_reads_spread_over_replicas_each_with_its_own_client():
    url = settings.CACHES["default"]["LOCATION"]
    cache = RedisCache(f"{url};{url}", {"OPTIONS": {"socket_timeout": 1}})
    backend = cache._cache
    writer = backend.get_client(write=True)
    readers = {id(backend.get_client()) for _ in range(20)}
    assert readers == {id(backend._clients[1])}  # the second server, never the writer's
    assert id(writer) not in readers
    assert backend._clients[1].connection_pool is backend._pools[1]
    cache.set("spread-probe", 7, 30)
    assert cache.get("spread-probe") == 7  # same Redis behind both names here
    cache.delete("spread-probe")
