"""The billing page of a per-seat plan in a real Chromium: seats used and paid, the seat
price and the entitlements table (with a deal's override). With
``TESSERA_DOC_SCREENSHOTS=1`` it refreshes docs/screenshots/billing-seats.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import browser, browser_marks, live_port
from tests.web import test_journeys_browser as journeys

# The journeys' fixtures: alpha committed and restored; the session's live server and
# Chromium (tests/browser.py).
alpha = journeys.alpha
committed_alpha = journeys.committed_alpha
live_url = journeys.live_url
signed_in = journeys.signed_in
__all__ = ["browser", "live_port"]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "billing-seats.png"

pytestmark = [*browser_marks(), pytest.mark.usefixtures("committed_db")]


@pytest.fixture
def alpha_on_team(committed_alpha, settings):
    """alpha subscribed to the per-seat plan, Stripe confirming one seat fewer than it
    uses (a change in flight), and a deal raising its product limit; undone afterwards."""
    from billing.entitlements import entitlements_invalidate
    from billing.models import BillingAccount, Plan, TenantEntitlementOverride
    from billing.seats import billable_seat_count
    from tenants.models import Tenant

    settings.STRIPE_SECRET_KEY = "sk_test_51TesseraFakeKey0000000000000000"  # page only: no calls
    tenant = committed_alpha.tenant
    previous_plan = tenant.plan_id
    used = billable_seat_count(tenant)
    Tenant.objects.filter(pk=tenant.pk).update(plan=Plan.objects.get(code="team"))
    BillingAccount.objects.update_or_create(
        tenant=tenant,
        defaults={
            "stripe_customer_id": "cus_test_browser",
            "stripe_subscription_id": "sub_test_browser",
            "stripe_subscription_item_id": "si_test_browser",
            "subscription_status": "active",
            "seats_desired": used,
            "seats_paid": used - 1,
            "seat_sequence": 2,
            "seats_pushed_sequence": 1,
        },
    )
    TenantEntitlementOverride.objects.create(
        tenant=tenant, key="products", value=20000, note="Launch deal"
    )
    entitlements_invalidate(tenant_id=tenant.pk)
    try:
        yield committed_alpha, used
    finally:
        TenantEntitlementOverride.objects.filter(tenant=tenant).delete()
        BillingAccount.objects.filter(tenant=tenant).delete()
        Tenant.objects.filter(pk=tenant.pk).update(plan_id=previous_plan)
        entitlements_invalidate()


def test_the_owner_sees_seats_and_what_the_plan_includes(browser, live_url, alpha_on_team):
    world, used = alpha_on_team
    page = signed_in(browser, live_url, world, "owner")
    page.goto(live_url + "/app/billing/")
    assert page.inner_text("h1") == "Billing"
    assert page.inner_text(".stat-value") == "Team"
    assert page.inner_text("#seats") == f"{used} used, {used - 1} paid · updating with Stripe"
    assert page.inner_text("#seat-price") == "12.00 per seat a month"
    table = page.locator("#entitlements")
    assert table.is_visible()
    assert page.inner_text("#entitlement-api_keys td >> nth=0") == "Included"
    assert page.inner_text("#entitlement-products td >> nth=0") == "20000 your agreement"
    assert page.inner_text("#entitlement-members td >> nth=0") == "Unlimited"
    assert page.inner_text("#entitlement-members td >> nth=1") == str(used + 1)  # + viewer
    assert page.inner_text("#entitlement-audit_log_days td >> nth=0") == "365"
    assert "per seat a month" in page.inner_text(".plans")
    if os.environ.get("TESSERA_DOC_SCREENSHOTS"):  # refresh the README's picture
        page.screenshot(path=str(SCREENSHOT), full_page=True)
