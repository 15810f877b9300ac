"""Throttles: one atomic Redis round trip per check, keys per tenant.

DRF's ``SimpleRateThrottle`` keeps a list of request times per client in the cache and
reads, trims and rewrites it on every request: two round trips, a pickled list as long
as the rate (1,200 floats at ``1200/min``), and two concurrent requests can both read the
old list and each write back one entry, so bursts slip past the limit. These throttles
use a sliding-window counter instead (the scheme of Cloudflare's and most API gateways'
rate limiters): one Redis counter per client and fixed window, ``INCR``ed atomically,
and the count as ``previous window x share of it still inside the sliding window +
current window``. One round trip (one Lua script: INCR, EXPIRE, GET), constant memory,
no lost updates. Every attempt counts, including rejected ones: a client that keeps
retrying faster than its rate stays throttled until it slows down.

The cache's KEY_FUNCTION prefixes every key with the active schema; the identity in the
key carries the schema as well, so a key is tenant-specific even under another key
function.

Throttles fail open: while Redis is unreachable they let requests through (and log a
warning) instead of turning every API request into a 500. A rate limit is a guard
against abuse, not a reason to take the API down with the cache.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from tenants.context import current_tenant_or_none

logger = logging.getLogger(__name__)

# What a cache outage raises through Django's Redis backend.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


def sliding_window_count(previous: int, current: int, elapsed: float, duration: float) -> float:
    """Requests in the ``duration`` seconds up to now, estimated from the counts of the
    previous and the current fixed window, ``elapsed`` seconds into the current one."""
    return previous * (1 - elapsed / duration) + current


def sliding_window_wait(
    previous: int, current: int, elapsed: float, duration: float, limit: int
) -> float:
    """Seconds until one more request fits under ``limit``, with none sent meanwhile.

    ``current`` already counts the refused request, and the next one counts too, so it
    fits when ``previous x (1 - (elapsed + t) / duration) + current + 1 <= limit``
    within this window, or, once the next window has begun and this window's count is
    the previous one, when ``current x (1 - (elapsed + t - duration) / duration) + 1 <=
    limit``. Always more than 0 for a refused request.
    """
    if current + 1 <= limit and previous:
        wait = duration * (1 - (limit - current - 1) / previous) - elapsed
        if elapsed + wait <= duration:
            return wait
    return duration - elapsed + duration * (1 - (limit - 1) / max(current, 1))


class RedisWindowThrottle(SimpleRateThrottle):
    """``SimpleRateThrottle``'s rates and identities, counted in Redis (see the module)."""

    cache_alias = "default"
    # Set by SimpleRateThrottle from the rate (undeclared in its type stubs).
    num_requests: int
    duration: int
    _counts: tuple[int, int, float]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            previous, current, elapsed = self._count(self.key)
        except CACHE_ERRORS as exc:
            logger.warning("throttle skipped, cache unavailable: %s", exc)
            return True
        self._counts = (previous, current, elapsed)
        return sliding_window_count(previous, current, elapsed, self.duration) <= self.num_requests

    def _count(self, key: str) -> tuple[int, int, float]:
        cache = caches[self.cache_alias]
        now = self.timer()
        window = math.floor(now / self.duration)
        current_key = cache.make_and_validate_key(f"{key}:{window}")
        previous_key = cache.make_and_validate_key(f"{key}:{window - 1}")
        client = cache._cache.get_client(current_key, write=True)  # type: ignore[attr-defined]  # Django's RedisCache
        # INCR, EXPIRE (kept while it is "previous") and GET as one script: one command
        # and one reply (a pipeline of three cost a fifth more of the request's CPU).
        current, previous = _count_in_script(
            client, [current_key, previous_key], [math.ceil(2 * self.duration)]
        )
        return int(previous or 0), int(current), now - window * self.duration

    def wait(self):
        previous, current, elapsed = self._counts
        return sliding_window_wait(previous, current, elapsed, self.duration, self.num_requests)


_WINDOW_LUA = """
local current = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {current, redis.call('GET', KEYS[2])}
"""
_window_script: Any = None


def _count_in_script(client, keys: list[str], args: list[Any]) -> Any:
    """The counting script run on ``client`` (Django's Redis cache makes a client per
    call, on its shared connection pool): redis-py sends EVALSHA, and loads the script
    again when the server has lost it (a restart, SCRIPT FLUSH)."""
    global _window_script
    if _window_script is None:
        _window_script = client.register_script(_WINDOW_LUA)
    return _window_script(keys=keys, args=args, client=client)


def _tenant_part(request) -> str:
    tenant = current_tenant_or_none()
    return tenant.schema_name if tenant is not None else "public"


class TenantUserRateThrottle(RedisWindowThrottle, UserRateThrottle):
    def get_cache_key(self, request, view):
        key = super().get_cache_key(request, view)
        return f"{key}:{_tenant_part(request)}" if key else None


class TenantAnonRateThrottle(RedisWindowThrottle, AnonRateThrottle):
    def get_cache_key(self, request, view):
        key = super().get_cache_key(request, view)
        return f"{key}:{_tenant_part(request)}" if key else None


class ScopedIPThrottle(RedisWindowThrottle):
    """Per client address and tenant, for a view's ``throttle_scope`` (signup, login)."""

    def __init__(self) -> None:  # rate resolved per view in allow_request
        pass

    def get_rate(self) -> str | None:
        # Read the settings now, not at import, so an override applies at once.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)

    def allow_request(self, request, view):
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        num_requests, duration = self.parse_rate(self.rate)
        if num_requests is None or duration is None:  # no rate for this scope
            return True
        self.num_requests, self.duration = num_requests, duration
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return f"throttle_{self.scope}_{self.get_ident(request)}:{_tenant_part(request)}"
