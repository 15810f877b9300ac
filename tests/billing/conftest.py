from __future__ import annotations

import pytest

from billing.models import Plan
from tests.stripe_fake import FakeStripe

WEBHOOK_SECRET = "whsec_test_tessera"
STARTER_PRICE = "price_test_starter"
PRO_PRICE = "price_test_pro"


@pytest.fixture(scope="session")
def stripe_server():
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_settings(stripe_server, settings):
    """Billing enabled against the fake (settings only: no database writes)."""
    stripe_server.reset()
    settings.STRIPE_SECRET_KEY = "sk_test_51TesseraFakeKey0000000000000000"
    settings.STRIPE_API_BASE = stripe_server.base_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield stripe_server
    import stripe

    stripe.api_base = "https://api.stripe.com"


@pytest.fixture
def fake_stripe(stripe_settings, db):
    """Billing enabled against the fake, with Stripe prices on the paid plans."""
    Plan.objects.filter(code="starter").update(stripe_price_id=STARTER_PRICE)
    Plan.objects.filter(code="pro").update(stripe_price_id=PRO_PRICE)
    return stripe_settings
