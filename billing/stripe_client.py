"""The one place Tessera talks to Stripe's API (or to STRIPE_API_BASE when set)."""

from __future__ import annotations

import hashlib

import stripe
from django.conf import settings

from shared_apps.core.errors import ErrorCode, TesseraError

DISABLED_MESSAGE = (
    "Billing is disabled: this installation has no STRIPE_SECRET_KEY. "
    "Everything else works; set the Stripe keys to enable checkout and the customer portal."
)


class BillingDisabled(TesseraError):
    code = ErrorCode.BILLING_DISABLED
    http_status = 503
    message = DISABLED_MESSAGE


class StripeUnavailable(TesseraError):
    code = ErrorCode.STRIPE_UNAVAILABLE
    http_status = 503
    message = "Stripe could not be reached; please try again."


def billing_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_api():
    """The configured ``stripe`` module. Raises ``BillingDisabled`` without a key."""
    if not billing_enabled():
        raise BillingDisabled()
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_version = settings.STRIPE_API_VERSION
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = settings.STRIPE_MAX_NETWORK_RETRIES
    return stripe


def idempotency_key(*parts: object) -> str:
    """A stable key for one logical write (Stripe keeps keys for 24 hours)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:40]
    return f"tessera-{digest}"
