"""Lock out password logins after repeated failures, per account and per client address.

Every failed password or one-time-code check (JWT token, session login, the web login
form, its TOTP step, password change, MFA set-up and removal) counts
against the account (the email typed, whether or not it exists) and against the client
address. When either count reaches its limit inside the window, further attempts are
refused with ``429 throttled`` and a ``Retry-After`` until ``WINDOW_SECONDS`` after the
last counted failure, without checking the password. A successful login clears the
account's count (not the address's: one valid account must not reset an attacker's
budget for the others).

Counts live in the ``shared`` cache (no tenant prefix): users are global (ADR 0002), so
an account is locked on every tenant host at once. Like the throttles, the lockout
fails open while Redis is down, and says so in the log.

Settings: ``LOGIN_LOCKOUT = {"ACCOUNT_FAILURES", "IP_FAILURES", "WINDOW_SECONDS"}``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import caches
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from shared_apps.core.errors import ErrorCode
from shared_apps.core.throttling import CACHE_ERRORS
from tenant_apps.audit.actions import AuditAction

logger = logging.getLogger(__name__)

CACHE_ALIAS = "shared"
LOCKED_OUT_MESSAGE = "Too many failed sign-in attempts. Try again later."
# The Django form error code of the same refusal (sign-in pages, allauth forms).
LOCKED_OUT_FORM_CODE = "locked_out"


class LoginLockedOut(exceptions.Throttled):
    default_detail = LOCKED_OUT_MESSAGE
    default_code = ErrorCode.THROTTLED


def _limits() -> tuple[int, int, int]:
    config: dict[str, Any] = settings.LOGIN_LOCKOUT
    return (
        int(config["ACCOUNT_FAILURES"]),
        int(config["IP_FAILURES"]),
        int(config["WINDOW_SECONDS"]),
    )


def _account_key(email: str) -> str:
    # Hashed: no email address in Redis, and a bounded key length.
    return "lockout:account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _keys(request, email: str) -> dict[str, str]:
    address = BaseThrottle().get_ident(request) or "unknown"
    return {"account": _account_key(email), "ip": f"lockout:ip:{address}"}


def _wait_seconds(request, email: str) -> float | None:
    """Seconds until the account or address is unlocked; None when neither is locked."""
    account_limit, ip_limit, window = _limits()
    keys = _keys(request, email)
    limits = {keys["account"]: account_limit, keys["ip"]: ip_limit}
    cache = caches[CACHE_ALIAS]
    values = cache.get_many([*limits, *(f"{key}:last" for key in limits)])
    now = time.time()
    waits = [
        values.get(f"{key}:last", now) + window - now
        for key, limit in limits.items()
        if values.get(key, 0) >= limit
    ]
    return max(max(waits), 1.0) if waits else None


def _count_failure(request, email: str) -> None:
    window = _limits()[2]
    cache = caches[CACHE_ALIAS]
    now = time.time()
    for key in _keys(request, email).values():
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)  # atomic in Redis: concurrent failures are all counted
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
        cache.touch(key, timeout=window)  # the lock lasts a window after the last failure
        cache.set(f"{key}:last", now, timeout=window)


def lockout_check(request, *, email: str) -> None:
    """Raise ``LoginLockedOut`` while the account (``email``) or the client address is
    locked; the caller then checks no password or code at all."""
    try:
        wait = _wait_seconds(request, email)
    except CACHE_ERRORS as exc:
        logger.warning("login lockout skipped, cache unavailable: %s", exc)
        wait = None
    if wait is not None:
        logger.warning("login refused: locked out for %ss", math.ceil(wait))
        raise LoginLockedOut(wait=wait)


def lockout_record(request, *, email: str, succeeded: bool) -> None:
    """Count a failed password or code check against the account and the address, or
    clear the account's count after a success."""
    try:
        if succeeded:
            caches[CACHE_ALIAS].delete(_keys(request, email)["account"])
        else:
            _count_failure(request, email)
    except CACHE_ERRORS as exc:
        logger.warning("login lockout not recorded, cache unavailable: %s", exc)


def lockout_guarded(request, *, email: str, check: Callable[[], bool]) -> bool:
    """Run ``check`` (a password or one-time-code comparison) under the lockout: raises
    ``LoginLockedOut`` while locked, counts a False, clears the count on True."""
    lockout_check(request, email=email)
    ok = bool(check())
    lockout_record(request, email=email, succeeded=ok)
    return ok


def login_authenticate(request, *, email: str, password: str, accept=None):
    """``authenticate()`` guarded by the lockout: the user, or None for bad credentials.

    ``accept(user)`` may refuse a user whose password is right (a non-member of the
    tenant): it gets None like a wrong password, and the failure is counted the same.
    Raises ``LoginLockedOut`` (429 with ``Retry-After``) while the account or the client
    address is locked; the password is not even checked then.
    """
    from shared_apps.accounts.services import security_event

    try:
        lockout_check(request, email=email)
    except LoginLockedOut:
        security_event(
            action=AuditAction.AUTH_LOCKOUT, acting_user=None, changes={"email": email[:254]}
        )
        raise
    user = authenticate(request, username=email, password=password)
    if user is not None and accept is not None and not accept(user):
        user = None
    # With a second factor to come, only its success clears the count: a right password
    # must not reset the budget of someone guessing the codes.
    if user is None or not _has_second_factor(user):
        lockout_record(request, email=email, succeeded=user is not None)
    if user is None:  # the email typed, never the password
        security_event(
            action=AuditAction.AUTH_LOGIN_FAILED, acting_user=None, changes={"email": email[:254]}
        )
    return user


def _has_second_factor(user) -> bool:
    from shared_apps.accounts.selectors import user_has_totp

    return user_has_totp(user=user)


def login_lockout_clear(*, email: str | None = None, address: str | None = None) -> None:
    """Unlock an account (by email) and/or a client address now; for operators:

    ``manage.py shell -c "from shared_apps.core.lockout import login_lockout_clear;
    login_lockout_clear(email='someone@example.com')"``
    """
    cache = caches[CACHE_ALIAS]
    keys = []
    if email is not None:
        keys.append(_account_key(email))
    if address is not None:
        keys.append(f"lockout:ip:{address}")
    cache.delete_many([*keys, *(f"{key}:last" for key in keys)])
