"""Access tokens already verified, kept per process (issue 15).

Verifying an access token (base64, JSON, the HS256 signature, the claims) cost a fifth of
a tenant list request's authentication. A client sends the same token on every request
until it expires, so ``TenantJWTAuthentication`` keeps the tokens that fully
authenticated once, keyed by ``(tenant id, the whole token string)``: the same bytes
signed by the same key are the same verified claims. A hit re-checks, every time, what
can change while the string does not:

* expiry: an entry is used only while ``now < exp + leeway`` (simplejwt's and PyJWT's
  own rule); past it the token goes through the full check again, which refuses it;
* the tenant binding, the membership (the per-process membership cache, validated by
  the routing generation) and the password fingerprint: checked after this cache, on
  every request, exactly as for a token verified afresh.

Nothing else in a token's verification depends on time or on the database (``nbf`` and
``iat`` only ever become more true). The key carries the tenant, so an entry made on one
tenant's host is never looked up on another's (a token of tenant A sent to tenant B's
host is verified afresh there, and refused by the binding check). Bounded (LRU,
``JWT_VERIFIED_CACHE_SIZE``; 0 turns it off); cleared when the JWT settings change.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from tenants.lru import LockedLRU


class VerifiedTokens(LockedLRU[tuple[Any, bytes], tuple[Any, float]]):
    """Bounded, thread-safe ``(tenant id, raw token) -> (token, usable until)`` cache."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize=max(maxsize, 1))
        self.maxsize = maxsize  # 0: off

    def get(self, tenant_id: Any, raw_token: bytes) -> Any | None:
        """The verified token, or None (not cached, or past its expiry: verify afresh)."""
        if not self.maxsize:
            return None
        key = (tenant_id, raw_token)
        with self._lock:
            cached = self._entries.get(key)
        if cached is None:
            return None
        token, usable_until = cached
        if time.time() < usable_until:
            return token
        with self._lock:
            self._entries.pop(key, None)
        return None

    def put(self, tenant_id: Any, raw_token: bytes, token: Any) -> None:
        """Keep a token that has just authenticated (verified, bound to ``tenant_id``)."""
        if not self.maxsize:
            return
        try:
            leeway = token.get_token_backend().get_leeway().total_seconds()
            usable_until = float(token["exp"]) + leeway
        except (KeyError, TypeError, ValueError):
            return  # no usable exp claim: never cached
        with self._lock:
            self._entries[(tenant_id, raw_token)] = (token, usable_until)


verified_tokens = VerifiedTokens(maxsize=getattr(settings, "JWT_VERIFIED_CACHE_SIZE", 4096))


@receiver(setting_changed)
def _forget_on_jwt_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY", "JWT_VERIFIED_CACHE_SIZE"):
        verified_tokens.clear()
        if setting == "JWT_VERIFIED_CACHE_SIZE":
            verified_tokens.maxsize = getattr(settings, "JWT_VERIFIED_CACHE_SIZE", 4096)
