"""Webhook endpoints API, signing and the outbox, inside the test transaction (no worker:
the delivery tests with a real worker and receiver are in test_webhook_delivery.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.entitlements import Feature, has_feature
from billing.models import Plan
from shared_apps.core.errors import ErrorCode
from tenant_apps.audit.models import AuditEntry
from tenant_apps.integrations import delivery
from tenant_apps.integrations.events import EventType, event_record
from tenant_apps.integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tenant_apps.orders.selectors import order_detail_queryset
from tenant_apps.orders.serializers import OrderDetailSerializer
from tenants.models import Tenant
from tests.factories import CustomerFactory, ProductFactory
from tests.support import bearer_client, error_of

ENDPOINTS = "/api/v1/webhooks/endpoints/"
URL = "http://127.0.0.1:18599/hook"  # never contacted here (no worker in these tests)


def create_endpoint(world, events=("order.created",), role="owner", **extra) -> dict:
    response = bearer_client(world, role).post(
        ENDPOINTS, {"url": URL, "events": list(events), **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_the_secret_once(alpha):
    body = create_endpoint(alpha, description="ERP")
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["events"] == ["order.created"] and body["description"] == "ERP"
    owner = bearer_client(alpha, "owner")
    assert "secret" not in owner.get(f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in owner.get(ENDPOINTS).json()["results"][0]
    Webhook(body["secret"])  # the reference library accepts it


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": ["order.exploded"]}, "events"),
        ({"url": URL, "events": ["ping"]}, "events"),
        ({"url": "nope", "events": ["order.created"]}, "url"),
        ({"events": ["order.created"]}, "url"),
    ],
)
def test_bad_endpoints_are_400(alpha, payload, field):
    response = bearer_client(alpha, "admin").post(ENDPOINTS, payload, format="json")
    assert response.status_code == 400 and field in error_of(response)["fields"]
    connection.set_tenant(alpha.tenant)
    assert WebhookEndpoint.objects.count() == 0


def test_only_admins_and_owners_manage_endpoints(alpha):
    for role in ("member", "viewer"):
        client = bearer_client(alpha, role)
        assert client.get(ENDPOINTS).status_code == 403
        assert (
            client.post(
                ENDPOINTS, {"url": URL, "events": ["order.created"]}, format="json"
            ).status_code
            == 403
        )


def test_beta_never_sees_alphas_endpoint(alpha, beta):
    body = create_endpoint(alpha)
    beta_owner = bearer_client(beta, "owner")
    assert beta_owner.get(ENDPOINTS).json()["results"] == []
    for method, path in [
        ("get", f"{ENDPOINTS}{body['id']}/"),
        ("patch", f"{ENDPOINTS}{body['id']}/"),
        ("delete", f"{ENDPOINTS}{body['id']}/"),
        ("get", f"{ENDPOINTS}{body['id']}/deliveries/"),
        ("post", f"{ENDPOINTS}{body['id']}/test/"),
        ("post", f"{ENDPOINTS}{body['id']}/rotate-secret/"),
    ]:
        response = getattr(beta_owner, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
    connection.set_tenant(alpha.tenant)
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]


def test_update_and_delete_are_audited(alpha):
    body = create_endpoint(alpha)
    owner = bearer_client(alpha, "owner")
    patched = owner.patch(
        f"{ENDPOINTS}{body['id']}/",
        {"events": ["order.paid", "order.created"], "enabled": False},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["events"] == ["order.created", "order.paid"]
    assert patched.json()["enabled"] is False
    assert owner.delete(f"{ENDPOINTS}{body['id']}/").status_code == 204
    connection.set_tenant(alpha.tenant)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]


def test_free_plan_has_no_webhooks(alpha):
    Tenant.objects.filter(schema_name=alpha.schema_name).update(plan=Plan.objects.get(code="free"))
    response = bearer_client(alpha, "owner").post(
        ENDPOINTS, {"url": URL, "events": ["order.created"]}, format="json"
    )
    assert response.status_code == 402
    assert error_of(response)["code"] == ErrorCode.FEATURE_NOT_IN_PLAN
    assert error_of(response)["fields"] == {"feature": "webhooks", "plan": "free"}


def test_rotation_signs_with_both_secrets_for_a_day(alpha):
    body = create_endpoint(alpha)
    rotated = bearer_client(alpha, "owner").post(f"{ENDPOINTS}{body['id']}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != body["secret"] and new.startswith("whsec_")
    connection.set_tenant(alpha.tenant)
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    secrets = delivery.active_secrets(endpoint)
    assert secrets == [new, body["secret"]]
    payload = '{"id":"evt_1"}'
    headers = delivery.signed_headers(msg_id="evt_1", body=payload, secrets=secrets)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(payload, headers) == {"id": "evt_1"}
    assert Webhook(body["secret"]).verify(payload, headers) == {"id": "evt_1"}
    later = timezone.now() + timedelta(hours=24, seconds=1)
    assert delivery.active_secrets(endpoint, now=later) == [new]


def test_signature_fails_with_another_secret():
    payload = '{"a":1}'
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = delivery.signed_headers(msg_id="evt_x", body=payload, secrets=[secret])
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD").verify(payload, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace("1", "2"), headers)


class _Target:
    pk = 41


def test_event_record_is_one_statement_with_or_without_subscribers(
    alpha, django_assert_num_queries
):
    connection.set_tenant(alpha.tenant)
    assert event_record(EventType.ORDER_CREATED, _Target()) is None  # search_path set
    with django_assert_num_queries(1):
        assert event_record(EventType.ORDER_CREATED, _Target()) is None
    assert WebhookEvent.objects.count() == 0
    connection.set_schema_to_public()
    first = create_endpoint(alpha, events=["order.created"])
    create_endpoint(alpha, events=["order.paid"])  # another type: not in this event
    create_endpoint(alpha, events=["order.created"], enabled=False)
    last = create_endpoint(alpha, events=["customer.created", "order.created"])
    connection.set_tenant(alpha.tenant)
    assert has_feature(alpha.tenant, Feature.WEBHOOKS)  # cached, as within a request
    with django_assert_num_queries(1):  # the outbox row and its endpoints, one statement
        event_id = event_record(EventType.ORDER_CREATED, _Target())
    event = WebhookEvent.objects.get()
    assert event.pk == event_id and event.type == "order.created" and event.object_pk == 41
    assert event.endpoint_ids == [first["id"], last["id"]] and event.dispatched_at is None
    assert event.payload["id"] == event.public_id and event.payload["data"] is None
    assert event.payload["tenant"] == "alpha" and event.created is not None


def test_order_created_snapshots_the_api_detail(alpha):
    endpoint = create_endpoint(alpha, events=["order.created", "customer.created"])
    product = None
    connection.set_tenant(alpha.tenant)
    product = ProductFactory(price=Decimal("9.50"), stock=3)
    customer = CustomerFactory()
    connection.set_schema_to_public()
    response = bearer_client(alpha, "member").post(
        "/api/v1/orders/",
        {"customer": customer.pk, "items": [{"product": product.pk, "quantity": 2}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    connection.set_tenant(alpha.tenant)
    event = WebhookEvent.objects.get(type="order.created")
    assert event.endpoint_ids == [endpoint["id"]] and event.dispatched_at is None
    assert event.payload["data"] is None and event.object_pk == response.json()["id"]
    delivery.dispatch(event.pk)  # what the worker does first, after commit
    event.refresh_from_db()
    assert event.object_pk is None and event.dispatched_at is not None
    assert set(event.payload) == {"id", "type", "created", "tenant", "data"}
    assert event.payload["tenant"] == "alpha" and event.payload["id"] == event.public_id
    assert event.payload["data"] == response.json()
    detail = OrderDetailSerializer(order_detail_queryset().get(pk=response.json()["id"])).data
    assert event.payload["data"]["total"] == detail["total"] == "19.00"


def test_a_rolled_back_write_leaves_no_event(alpha):
    create_endpoint(alpha, events=["customer.created"])
    connection.set_tenant(alpha.tenant)
    from tenant_apps.orders.services import customer_create

    with pytest.raises(RuntimeError), transaction.atomic():
        customer_create(name="Gone", email="gone@x.test", acting_user=None)
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the rest of the request failed")
    assert WebhookEvent.objects.count() == 0


def test_disabled_or_unsubscribed_endpoints_get_nothing(alpha):
    create_endpoint(alpha, events=["order.paid"])
    create_endpoint(alpha, events=["customer.created"], enabled=False)
    connection.set_tenant(alpha.tenant)
    from tenant_apps.orders.services import customer_create

    customer_create(name="C", email="c@x.test", acting_user=None)
    assert WebhookEvent.objects.count() == 0


def test_test_ping_goes_through_the_outbox_to_that_endpoint_only(alpha):
    one = create_endpoint(alpha)
    create_endpoint(alpha)
    response = bearer_client(alpha, "owner").post(f"{ENDPOINTS}{one['id']}/test/")
    assert response.status_code == 202
    connection.set_tenant(alpha.tenant)
    event = WebhookEvent.objects.get(public_id=response.json()["event"])
    assert event.type == "ping" and event.endpoint_ids == [one["id"]]
    assert delivery.dispatch(event.pk) == [one["id"]]
    assert delivery.dispatch(event.pk) == [one["id"]]  # idempotent
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_retry_schedule_has_jitter_and_an_end(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [10, 100]
    settings.WEBHOOK_RETRY_JITTER = 0.2
    delays = {round(delivery.retry_delay(1), 3) for _ in range(20)}
    assert len(delays) > 1 and all(8 <= d <= 12 for d in delays)
    assert 80 <= delivery.retry_delay(2) <= 120
    assert delivery.retry_delay(3) is None
    assert sum(__import__("django.conf").conf.settings.WEBHOOK_RETRY_SCHEDULE) == 110


def test_member_events_carry_the_members_api_shape(alpha):
    from shared_apps.organizations import services as org_services
    from shared_apps.organizations.models import OrganizationUser

    create_endpoint(alpha, events=["member.joined", "member.removed"])
    tenant = alpha.tenant
    connection.set_tenant(tenant)
    issued = org_services.invitation_create(
        tenant=tenant,
        email="newcomer@alpha.test",
        role="viewer",
        acting_user=alpha.user("owner"),
        accept_url="http://alpha.localhost/invitations/accept/",
    )
    membership = org_services.invitation_accept(
        tenant=tenant, token=issued.token, password="Zq7!vX9#mK2$wL5^"
    )
    joined = WebhookEvent.objects.get(type="member.joined")
    delivery.dispatch(joined.pk)
    joined.refresh_from_db()
    assert joined.payload["data"]["email"] == "newcomer@alpha.test"
    assert joined.payload["data"]["role"] == "viewer"
    org_services.member_remove(
        tenant=tenant,
        membership=OrganizationUser.objects.get(pk=membership.pk),
        acting_user=alpha.user("owner"),
    )
    removed = WebhookEvent.objects.get(type="member.removed")
    assert removed.payload["data"]["id"] == membership.pk  # rendered before it was gone
    assert removed.object_pk is None


def test_an_object_deleted_before_dispatch_is_sent_as_deleted(alpha):
    create_endpoint(alpha, events=["customer.created"])
    connection.set_tenant(alpha.tenant)
    from tenant_apps.orders.models import Customer
    from tenant_apps.orders.services import customer_create

    customer = customer_create(name="Brief", email="brief@x.test", acting_user=None)
    Customer.objects.filter(pk=customer.pk).delete()
    event = WebhookEvent.objects.get()
    delivery.dispatch(event.pk)
    event.refresh_from_db()
    assert event.payload["data"] == {"id": customer.pk, "deleted": True}
