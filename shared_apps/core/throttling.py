"""Throttles whose cache keys carry the tenant as well as the user or client address.

The cache's KEY_FUNCTION already prefixes every key with the active schema; these
classes also put the schema in the identity, so the key is tenant-specific even if a
different key function is configured.

Throttles fail open: while Redis is unreachable they let requests through (and log a
warning) instead of turning every API request into a 500. A rate limit is a guard
against abuse, not a reason to take the API down with the cache.
"""

import logging

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

# What a cache outage raises through Django's Redis backend.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


class FailOpenThrottleMixin:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except CACHE_ERRORS as exc:
            logger.warning("throttle skipped, cache unavailable: %s", exc)
            return True


def _tenant_part(request) -> str:
    tenant = getattr(request, "tenant", None)
    return tenant.schema_name if tenant is not None else "public"


class TenantUserRateThrottle(FailOpenThrottleMixin, UserRateThrottle):
    def get_cache_key(self, request, view):
        key = super().get_cache_key(request, view)
        return f"{key}:{_tenant_part(request)}" if key else None


class TenantAnonRateThrottle(FailOpenThrottleMixin, AnonRateThrottle):
    def get_cache_key(self, request, view):
        key = super().get_cache_key(request, view)
        return f"{key}:{_tenant_part(request)}" if key else None


class ScopedIPThrottle(FailOpenThrottleMixin, SimpleRateThrottle):
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
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return f"throttle_{self.scope}_{self.get_ident(request)}:{_tenant_part(request)}"
