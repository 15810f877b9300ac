"""API keys and webhooks on the settings page, in a real Chromium (Playwright), against a
live server, a real Celery worker and a real receiver on 127.0.0.1.

With ``TESSERA_DOC_SCREENSHOTS=1`` the journeys also save the screenshots of
``docs/screenshots/settings-*.png`` (the README shows one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from tests import celery_support
from tests.browser import browser, browser_marks, live_port, signed_in_page
from tests.celery_support import wait_for
from tests.committed_worlds import committed_alpha as alpha
from tests.committed_worlds import committed_beta as beta
from tests.support import host_client
from tests.tenant_apps.integrations.receiver import Receiver

celery_prefix = celery_support.celery_prefix
worker = celery_support.worker

# The Chromium and the live server are the session's (tests/browser.py); the receiver is
# this module's. No xdist group: the journey using ``worker`` goes where the Celery
# worker runs (conftest), the other one anywhere (each starts its own receiver then).
pytestmark = [*browser_marks(), pytest.mark.usefixtures("committed_db")]
# Fixtures: ``alpha``/``beta`` are the session tenants without ``db``, since these tests
# commit (tests/committed_worlds.py).
__all__ = ["alpha", "beta", "browser", "live_port"]

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
TABLES = [
    "integrations_webhookattempt",
    "integrations_webhookdelivery",
    "integrations_webhookevent",
    "integrations_webhookendpoint",
    "integrations_apikey",
    "audit_auditentry",
    "django_session",
]


def snap(page, name: str) -> None:
    if os.environ.get("TESSERA_DOC_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def live_url(committed_db, alpha, beta, live_port):
    """Alpha's address on the live server; alpha's and beta's keys, endpoints, deliveries,
    audit entries and sessions are removed afterwards."""
    yield f"http://{alpha.host}:{live_port}"
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        for schema in (alpha.schema_name, beta.schema_name):
            cursor.execute(f"UPDATE {schema}.integrations_webhookendpoint SET enabled = false")

        def idle() -> bool:
            cursor.execute(
                f"SELECT count(*) FROM {alpha.schema_name}.integrations_webhookdelivery"
                " WHERE leased_until > now()"
            )
            return cursor.fetchone()[0] == 0

        wait_for(idle, timeout=15, what="deliveries in flight to finish")
        for schema in (alpha.schema_name, beta.schema_name):
            for table in TABLES:
                cursor.execute(f"DELETE FROM {schema}.{table}")


def api_status(world, key: str) -> int:
    client = host_client(world.host)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.get("/api/v1/products/").status_code


def test_an_owner_manages_keys_and_webhooks(
    browser,
    live_url,
    alpha,
    receiver,
    worker,
    settings,
):
    page = signed_in_page(browser, live_url, alpha, "owner")
    page.goto(live_url + "/app/settings/")

    # An API key: shown once, works on the API, then revoked.
    page.fill("#id_key-name", "Shop front")
    page.select_option("#id_key-role", "member")
    page.click("#create-api-key")
    page.wait_for_selector("#issued-key")
    key = page.inner_text("#issued-key-value").strip()
    assert "." in key and api_status(alpha, key) == 200
    page.goto(live_url + "/app/settings/")
    assert page.locator("#issued-key").count() == 0 and key not in page.content()
    assert key.split(".")[0] in page.inner_text("#api-key-table")

    # A webhook endpoint: refused destinations are field errors (production's rule).
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False
    page.fill("#id_endpoint-url", "https://169.254.169.254/latest/meta-data/")
    page.check("input[name='endpoint-events'][value='order.created']")
    page.click("#add-endpoint")
    page.wait_for_selector("#id_endpoint-url_error")
    assert "169.254.169.254 is a link-local address" in page.inner_text("#id_endpoint-url_error")
    assert page.get_attribute("#id_endpoint-url", "aria-invalid") == "true"
    assert page.is_checked("input[name='endpoint-events'][value='order.created']")  # kept
    snap(page, "settings-webhook-refused")
    page.fill("#id_endpoint-url", receiver.url("/browser").replace("127.0.0.1", "localhost"))
    page.click("#add-endpoint")
    page.wait_for_selector("#id_endpoint-url_error")
    assert "Webhook URLs must use https://." in page.inner_text("#id_endpoint-url_error")

    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = True  # the development rule
    page.fill("#id_endpoint-url", receiver.url("/browser"))
    page.check("input[name='endpoint-events'][value='customer.created']")
    page.fill("#id_endpoint-description", "ERP (orders and customers)")
    page.click("#add-endpoint")
    page.wait_for_selector("#new-endpoint-secret")
    secret = page.inner_text("#new-endpoint-secret").strip()
    assert secret.startswith("whsec_")
    assert "ERP (orders and customers)" in page.inner_text("#endpoint-table")
    snap(page, "settings-integrations")
    page.set_viewport_size({"width": 375, "height": 900})
    snap(page, "settings-integrations-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Its page: a test ping, delivered by the worker; the log updates itself (htmx).
    page.click("#endpoint-table a.endpoint-url")
    page.wait_for_selector("#delivery-log")
    assert secret not in page.content()
    page.click("#send-ping")
    page.wait_for_selector("#delivery-table [data-status='succeeded']", timeout=30_000)
    (ping,) = receiver.received("/browser")
    payload = Webhook(secret).verify(ping.body, ping.headers)
    assert payload["type"] == "ping" and payload["tenant"] == "alpha"
    page.click("#delivery-table details summary")
    assert "204" in page.inner_text("table.attempts")
    snap(page, "settings-webhook-deliveries")

    page.click("#delivery-table button.redeliver")
    wait_for(lambda: len(receiver.received("/browser")) == 2, timeout=30, what="redelivery")
    again = receiver.received("/browser")[1]
    assert again.headers["webhook-id"] == ping.headers["webhook-id"]

    page.click("#rotate-secret")
    page.wait_for_selector("#rotated-secret-value")
    rotated = page.inner_text("#rotated-secret-value").strip()
    assert rotated.startswith("whsec_") and rotated != secret
    page.click("#toggle-endpoint")
    page.wait_for_selector("#endpoint-status:has-text('Disabled')")
    assert page.locator("#send-ping[disabled]").count() == 1

    page.goto(live_url + "/app/settings/")
    page.click("#api-key-table button:has-text('Revoke')")
    page.wait_for_selector(".flash")
    assert "was revoked" in page.inner_text(".flash")
    assert api_status(alpha, key) == 401


def test_members_and_the_other_tenant_see_nothing_of_it(
    browser,
    live_url,
    alpha,
    beta,
):
    owner = signed_in_page(browser, live_url, alpha, "owner")
    owner.goto(live_url + "/app/settings/")
    owner.fill("#id_key-name", "alpha-only key")
    owner.click("#create-api-key")
    owner.wait_for_selector("#issued-key")
    owner.fill("#id_endpoint-url", "http://127.0.0.1:18599/alpha-only")
    owner.check("input[name='endpoint-events'][value='order.paid']")
    owner.click("#add-endpoint")
    owner.wait_for_selector("#new-endpoint-secret")
    endpoint_path = owner.get_attribute("#endpoint-table a.endpoint-url", "href")
    assert endpoint_path and endpoint_path.startswith("/app/settings/webhooks/")

    member = signed_in_page(browser, live_url, alpha, "member")
    member.goto(live_url + "/app/settings/")
    assert member.locator("#api-keys, #webhooks, #api-key-form, #endpoint-form").count() == 0
    assert "alpha-only" not in member.content()
    assert member.goto(live_url + endpoint_path).status == 403

    port = live_url.rsplit(":", 1)[1]
    beta_url = f"http://{beta.host}:{port}"
    for role in ("member", "owner"):
        beta_page = signed_in_page(browser, beta_url, beta, role)
        beta_page.goto(beta_url + "/app/settings/")
        assert "alpha-only" not in beta_page.content()
        assert beta_page.locator("#api-key-table, #endpoint-table").count() == 0
        if role == "member":
            assert beta_page.locator("#api-keys, #webhooks").count() == 0
        response = beta_page.goto(beta_url + endpoint_path)  # alpha's endpoint id on beta
        assert response is not None and response.status == (404 if role == "owner" else 403)
        assert "alpha-only" not in beta_page.content()
