"""The API keys and webhooks sections of the settings page, and the endpoint page
(``tenant_apps/integrations/pages.py``), through Django's test client on alpha's host.
The journeys in a real browser are in test_integrations_browser.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection

from billing.models import Plan
from tenant_apps.audit.models import AuditEntry
from tenant_apps.integrations import destinations
from tenant_apps.integrations.models import (
    ApiKey,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tenant_apps.integrations.services import new_secret
from tenants.models import Tenant
from tests.support import host_client

SETTINGS = "/app/settings/"
KEYS = "/app/settings/api-keys/"
HOOKS = "/app/settings/webhooks/"
GOOD_URL = "http://127.0.0.1:18599/hook"  # allowed by the test settings; never contacted


@pytest.fixture
def strict(settings):
    """Production's rule: https only, public addresses only."""
    settings.WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.fixture
def fake_dns(monkeypatch):
    """Names → addresses, through the one resolver the destination check uses."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    monkeypatch.setattr(destinations, "resolve", resolve)
    return table


def body(response) -> str:
    return response.content.decode()


def endpoint_in(world, **extra) -> WebhookEndpoint:
    connection.set_tenant(world.tenant)
    try:
        return WebhookEndpoint.objects.create(
            url=extra.pop("url", GOOD_URL),
            events=extra.pop("events", ["order.created"]),
            secret=new_secret(),
            **extra,
        )
    finally:
        connection.set_schema_to_public()


def to_free_plan(world) -> None:
    Tenant.objects.filter(schema_name=world.schema_name).update(plan=Plan.objects.get(code="free"))


# API keys ------------------------------------------------------------------------------------


def test_an_admin_creates_a_key_that_is_shown_once_and_works(alpha, page_client):
    admin = page_client("admin")
    page = admin.get(SETTINGS)
    assert page.status_code == 200 and 'id="api-key-form"' in body(page)
    # An admin may give admin, member or viewer; never owner.
    assert 'value="owner"' not in body(page).split('id="api-key-form"')[1].split("</form>")[0]

    created = admin.post(KEYS, {"key-name": "ERP", "key-role": "member"})
    assert created.status_code == 200
    raw = created.context["issued_key"].key
    assert raw in body(created) and "it is not shown again" in body(created)
    connection.set_tenant(alpha.tenant)
    key = ApiKey.objects.get()
    assert (key.name, key.role, key.created_by_id) == ("ERP", "member", alpha.user("admin").pk)
    assert AuditEntry.objects.filter(action="api_key.created").count() == 1
    connection.set_schema_to_public()

    again = admin.get(SETTINGS)
    assert raw not in body(again) and key.prefix in body(again)
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/api-keys/").status_code == 403  # a member's key: not an admin


def test_key_form_errors_are_shown_next_to_the_fields(alpha, page_client):
    owner = page_client("owner")
    refused = owner.post(KEYS, {"key-name": "", "key-role": "owner"})
    assert refused.status_code == 400
    html = body(refused)
    assert 'id="id_key-name_error"' in html and "This field is required." in html
    assert 'id="id_key-role_error"' in html and "Select a valid choice." in html
    past = (date.today() - timedelta(days=2)).isoformat()
    expired = owner.post(KEYS, {"key-name": "Old", "key-role": "viewer", "key-expires_at": past})
    assert expired.status_code == 400
    assert "The expiry must be in the future." in body(expired)
    assert 'id="id_key-expires_at_error"' in body(expired)
    connection.set_tenant(alpha.tenant)
    assert ApiKey.objects.count() == 0


def test_an_expiry_date_is_the_end_of_that_day(alpha, page_client):
    day = date.today() + timedelta(days=30)
    response = page_client("owner").post(
        KEYS, {"key-name": "Temp", "key-role": "viewer", "key-expires_at": day.isoformat()}
    )
    assert response.status_code == 200
    connection.set_tenant(alpha.tenant)
    expiry = ApiKey.objects.get().expiry_date
    assert expiry is not None and expiry.date() == day + timedelta(days=1)
    assert (expiry.hour, expiry.minute, expiry.utcoffset()) == (0, 0, timedelta(0))


def test_revoke_stops_the_key_and_a_second_revoke_says_why(alpha, page_client):
    owner = page_client("owner")
    raw = owner.post(KEYS, {"key-name": "Shop", "key-role": "viewer"}).context["issued_key"].key
    connection.set_tenant(alpha.tenant)
    key = ApiKey.objects.get()
    connection.set_schema_to_public()
    revoked = owner.post(f"{KEYS}{key.pk}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == SETTINGS
    page = owner.get(SETTINGS)
    assert "Revoked" in body(page) and f"{KEYS}{key.pk}/revoke/" not in body(page)
    client = host_client(alpha.host)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/api/v1/products/").status_code == 401
    twice = owner.post(f"{KEYS}{key.pk}/revoke/")
    assert twice.status_code == 409 and "already revoked" in body(twice)
    assert 'id="integrations-error"' in body(twice)


# Who sees what ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_see_no_integrations_and_get_403_if_they_post(alpha, page_client, role):
    endpoint = endpoint_in(alpha)
    client = page_client(role)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    html = body(page)
    assert 'id="api-keys"' not in html and 'id="webhooks"' not in html
    posts = [
        (KEYS, {"key-name": "x", "key-role": "viewer"}),
        (HOOKS, {"endpoint-url": GOOD_URL, "endpoint-events": ["order.created"]}),
        (f"{HOOKS}{endpoint.pk}/", {"endpoint-url": GOOD_URL}),
        (f"{HOOKS}{endpoint.pk}/enabled/", {"enabled": "false"}),
        (f"{HOOKS}{endpoint.pk}/rotate-secret/", {}),
        (f"{HOOKS}{endpoint.pk}/test/", {}),
        (f"{HOOKS}{endpoint.pk}/delete/", {}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "<html" in body(response), url  # an HTML page, not JSON
    assert client.get(f"{HOOKS}{endpoint.pk}/").status_code == 403
    connection.set_tenant(alpha.tenant)
    assert ApiKey.objects.count() == 0
    assert WebhookEndpoint.objects.get().enabled is True and WebhookEvent.objects.count() == 0


def test_a_free_plan_explains_that_integrations_need_a_paid_plan(alpha, page_client):
    endpoint = endpoint_in(alpha)
    to_free_plan(alpha)
    owner = page_client("owner")
    html = body(owner.get(SETTINGS))
    assert "Your Free plan does not include API keys; upgrade to use them." in html
    assert "Your Free plan does not include webhooks; upgrade to use them." in html
    assert 'id="api-key-form"' not in html and 'id="endpoint-form"' not in html
    assert 'href="/app/billing/"' in html  # owners are pointed at the plans
    admin_html = body(page_client("admin").get(SETTINGS))
    assert "Ask an owner of the organisation to upgrade." in admin_html
    refused = owner.post(KEYS, {"key-name": "x", "key-role": "viewer"})
    assert refused.status_code == 402 and "does not include API keys" in body(refused)
    assert owner.get(f"{HOOKS}{endpoint.pk}/").status_code == 402
    assert owner.post(f"{HOOKS}{endpoint.pk}/test/").status_code == 402


def test_a_read_only_tenant_shows_the_lists_without_controls(alpha, page_client):
    endpoint = endpoint_in(alpha)
    Tenant.objects.filter(schema_name=alpha.schema_name).update(status="suspended")
    owner = page_client("owner")
    html = body(owner.get(SETTINGS))
    assert 'id="endpoint-table"' in html and 'id="endpoint-form"' not in html
    assert 'id="api-key-form"' not in html
    detail = body(owner.get(f"{HOOKS}{endpoint.pk}/"))
    assert 'id="send-ping"' not in detail and 'id="endpoint-form"' not in detail
    assert owner.post(f"{HOOKS}{endpoint.pk}/test/").status_code == 402


# Webhook endpoints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "The URL must be an https:// URL with a host name."),
        ("ftp://example.com/", "The URL must be an https:// URL with a host name."),
        ("http://93.184.216.34/hook", "Webhook URLs must use https://."),
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("https://192.168.1.10/hook", "192.168.1.10 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://[::ffff:10.0.0.1]/hook", "10.0.0.1 is a private address"),
        ("https://100.64.0.1/hook", "100.64.0.1 is a shared address"),
        ("https://user:pw@93.184.216.34/", "may not carry a user name or password"),
        ("https://internal.example.test/hook", "10.1.2.3 is a private address"),
        ("https://nowhere.example.test/hook", "does not resolve"),
    ],
)
def test_refused_urls_are_shown_on_the_form(alpha, page_client, strict, fake_dns, url, message):
    fake_dns["internal.example.test"] = ["93.184.216.34", "10.1.2.3"]
    response = page_client("owner").post(
        HOOKS, {"endpoint-url": url, "endpoint-events": ["order.created"]}
    )
    assert response.status_code == 400
    html = body(response)
    assert 'id="id_endpoint-url_error"' in html and message in html, html[-3000:]
    assert url.replace("&", "&amp;") in html  # the form keeps what was typed
    connection.set_tenant(alpha.tenant)
    assert WebhookEndpoint.objects.count() == 0


def test_events_are_required_and_from_the_catalogue(alpha, page_client):
    owner = page_client("owner")
    none = owner.post(HOOKS, {"endpoint-url": GOOD_URL})
    assert none.status_code == 400 and "Choose at least one event." in body(none)
    unknown = owner.post(HOOKS, {"endpoint-url": GOOD_URL, "endpoint-events": ["ping"]})
    assert unknown.status_code == 400 and "Select a valid choice." in body(unknown)


def test_an_endpoint_is_created_with_its_secret_shown_once(alpha, page_client, strict, fake_dns):
    fake_dns["erp.example.test"] = ["93.184.216.34"]
    owner = page_client("owner")
    created = owner.post(
        HOOKS,
        {
            "endpoint-url": "https://erp.example.test/hooks",
            "endpoint-events": ["order.created", "order.paid"],
            "endpoint-description": "ERP",
        },
    )
    assert created.status_code == 200
    endpoint = created.context["new_endpoint"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in body(created)
    assert endpoint.events == ["order.created", "order.paid"]
    for page in (owner.get(SETTINGS), owner.get(f"{HOOKS}{endpoint.pk}/")):
        assert page.status_code == 200
        assert endpoint.secret not in body(page) and "https://erp.example.test/hooks" in body(page)


def test_the_endpoint_page_changes_toggles_rotates_pings_and_deletes(alpha, page_client):
    endpoint = endpoint_in(alpha, description="ERP")
    owner = page_client("owner")
    url = f"{HOOKS}{endpoint.pk}/"

    saved = owner.post(
        url,
        {
            "endpoint-url": GOOD_URL,
            "endpoint-events": ["order.paid"],
            "endpoint-description": "ERP (paid only)",
        },
    )
    assert saved.status_code == 302 and saved["Location"] == url
    bad = owner.post(url, {"endpoint-url": "ftp://x/", "endpoint-events": ["order.paid"]})
    assert bad.status_code == 400 and 'id="id_endpoint-url_error"' in body(bad)

    assert owner.post(f"{url}enabled/", {"enabled": "false"}).status_code == 302
    assert "Disabled" in body(owner.get(url))
    assert owner.post(f"{url}enabled/", {"enabled": "true"}).status_code == 302

    old = endpoint.secret
    rotated = owner.post(f"{url}rotate-secret/")
    assert rotated.status_code == 200
    connection.set_tenant(alpha.tenant)
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in body(rotated) and old not in body(rotated)
    assert (endpoint.events, endpoint.description, endpoint.enabled) == (
        ["order.paid"],
        "ERP (paid only)",
        True,
    )
    connection.set_schema_to_public()
    assert endpoint.secret not in body(owner.get(url))

    pinged = owner.post(f"{url}test/")
    assert pinged.status_code == 302
    connection.set_tenant(alpha.tenant)
    ping = WebhookEvent.objects.get()
    assert (ping.type, ping.endpoint_ids) == ("ping", [endpoint.pk])
    connection.set_schema_to_public()
    # Not dispatched yet (no worker here): the log keeps refreshing until it is.
    assert 'hx-trigger="every 2s"' in body(owner.get(url))

    assert owner.post(f"{url}delete/").status_code == 302
    assert owner.get(url).status_code == 404
    connection.set_tenant(alpha.tenant)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.tested",
        "webhook_endpoint.deleted",
    } <= actions


def test_the_delivery_log_shows_attempts_and_redelivers(alpha, page_client):
    from django.utils import timezone

    from tenant_apps.integrations.events import outbox_write
    from tenant_apps.integrations.models import WebhookAttempt

    endpoint = endpoint_in(alpha)
    connection.set_tenant(alpha.tenant)
    event = outbox_write(
        event_type="order.created", data={"id": 1}, endpoint_ids=[endpoint.pk], tenant=alpha.tenant
    )
    WebhookEvent.objects.filter(pk=event.pk).update(dispatched_at=timezone.now())
    delivery = WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        status="failed",
        attempts=1,
        last_status_code=503,
        last_error="HTTP 503",
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        duration_ms=42,
        status_code=503,
        error="HTTP 503",
    )
    connection.set_schema_to_public()
    owner = page_client("owner")
    page = owner.get(f"{HOOKS}{endpoint.pk}/")
    html = body(page)
    assert event.public_id in html and "HTTP 503" in html and "42 ms" in html
    log_tag = html.split('id="delivery-log"')[1].split(">", 1)[0]
    assert 'data-status="failed"' in html and "hx-get" not in log_tag  # nothing to wait for
    redelivered = owner.post(f"{HOOKS}deliveries/{delivery.pk}/redeliver/")
    assert redelivered.status_code == 302
    fragment = owner.get(f"{HOOKS}{endpoint.pk}/deliveries/")
    assert fragment.status_code == 200
    part = body(fragment)
    assert part.lstrip().startswith('<div id="delivery-log"') and "<html" not in part
    assert 'data-status="pending"' in part and "every 2s" in part  # polls while pending


# The other tenant's side -------------------------------------------------------------------


def test_beta_never_sees_alphas_keys_or_endpoints(alpha, beta, page_client):
    alpha_owner = page_client("owner")
    alpha_owner.post(KEYS, {"key-name": "alpha-only-key", "key-role": "viewer"})
    endpoint = endpoint_in(alpha, url="http://127.0.0.1:18599/alpha-only", description="alpha")
    connection.set_tenant(alpha.tenant)
    key = ApiKey.objects.get()
    event = WebhookEvent.objects.create(public_id="evt_alpha", type="ping", payload={})
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    connection.set_schema_to_public()

    beta_owner = page_client("owner", beta)
    html = body(beta_owner.get(SETTINGS))
    assert "alpha-only" not in html and key.prefix not in html
    assert 'id="api-keys"' in html  # beta's own (empty) sections
    for url in (
        f"{HOOKS}{endpoint.pk}/",
        f"{HOOKS}{endpoint.pk}/deliveries/",
    ):
        assert beta_owner.get(url).status_code == 404, url
    for url in (
        f"{KEYS}{key.pk}/revoke/",
        f"{HOOKS}{endpoint.pk}/",
        f"{HOOKS}{endpoint.pk}/enabled/",
        f"{HOOKS}{endpoint.pk}/rotate-secret/",
        f"{HOOKS}{endpoint.pk}/test/",
        f"{HOOKS}{endpoint.pk}/delete/",
        f"{HOOKS}deliveries/{delivery.pk}/redeliver/",
    ):
        assert beta_owner.post(url, {"enabled": "false"}).status_code == 404, url
    beta_member_html = body(page_client("member", beta).get(SETTINGS))
    assert "alpha-only" not in beta_member_html and 'id="api-keys"' not in beta_member_html
    connection.set_tenant(alpha.tenant)
    key.refresh_from_db()
    endpoint.refresh_from_db()
    assert not key.revoked and endpoint.enabled and WebhookEvent.objects.count() == 1
