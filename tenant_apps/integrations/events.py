"""The webhook event catalogue and the outbox (ADR 0021).

Services call ``event_record(EventType.ORDER_CREATED, order)`` inside their transaction,
after the write. That is one statement either way: an ``INSERT ... SELECT`` that writes
the ``WebhookEvent`` row with the ids of the tenant's enabled endpoints subscribed to
the type, or writes nothing when there are none (so subscribers cost the write no extra
round trip). The row is in the write's transaction: a rolled-back write leaves no event,
a committed one always has its row. After commit one task is queued (``bulk``) --
published once the response is out when the write is a request's (ADR 0030) -- that
renders ``data`` with the API's own detail serializer, creates the deliveries and sends
them; if that enqueue is lost (a crash between commit and enqueue, Redis down), the
sweeper finds the row and does it. ``data`` is thus the object as the API shows it when
the event is dispatched, normally milliseconds after the commit (ADR 0021 weighs this
against rendering inside the request). Events about an object that the write deletes
(``member.removed``) are rendered in the request, since nothing is left to render
afterwards.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from billing.entitlements import Feature, has_feature
from shared_apps.core.after_response import after_response
from tenant_apps.integrations.models import WebhookEndpoint, WebhookEvent
from tenants.context import current_tenant


class EventType(models.TextChoices):
    ORDER_CREATED = "order.created", "An order was placed"
    ORDER_PAID = "order.paid", "An order was marked paid"
    ORDER_CANCELED = "order.canceled", "An order was canceled"
    ORDER_REFUNDED = "order.refunded", "An order was refunded"
    PRODUCT_CREATED = "product.created", "A product was created"
    PRODUCT_UPDATED = "product.updated", "A product was changed"
    CUSTOMER_CREATED = "customer.created", "A customer was created"
    MEMBER_JOINED = "member.joined", "Someone joined the organisation"
    MEMBER_REMOVED = "member.removed", "A member was removed"


PING = "ping"  # sent by POST webhooks/endpoints/{id}/test/ only; nobody subscribes to it


def _order(order: Any) -> Any:
    from tenant_apps.orders.selectors import order_detail_queryset
    from tenant_apps.orders.serializers import OrderDetailSerializer

    return OrderDetailSerializer(order_detail_queryset().get(pk=order.pk)).data


def _product(product: Any) -> Any:
    from tenant_apps.catalog.selectors import product_list
    from tenant_apps.catalog.serializers import ProductOutputSerializer

    return ProductOutputSerializer(product_list().get(pk=product.pk)).data


def _customer(customer: Any) -> Any:
    from tenant_apps.orders.selectors import customer_list
    from tenant_apps.orders.serializers import CustomerOutputSerializer

    return CustomerOutputSerializer(customer_list().get(pk=customer.pk)).data


def _member(membership: Any) -> Any:
    from shared_apps.organizations.models import OrganizationUser
    from shared_apps.organizations.serializers import MemberOutputSerializer

    if not isinstance(membership, OrganizationUser):  # a reference: read it (scoped)
        membership = (
            OrganizationUser.objects.for_tenant(current_tenant())
            .select_related("user")
            .get(pk=membership.pk)
        )
    return MemberOutputSerializer(membership).data


# Rendered inside the request: the object does not outlive the write.
RENDER_AT_WRITE = frozenset({EventType.MEMBER_REMOVED})

# Event type → the API's detail shape of its object.
RENDERERS: dict[str, Callable[[Any], Any]] = {
    EventType.ORDER_CREATED: _order,
    EventType.ORDER_PAID: _order,
    EventType.ORDER_CANCELED: _order,
    EventType.ORDER_REFUNDED: _order,
    EventType.PRODUCT_CREATED: _product,
    EventType.PRODUCT_UPDATED: _product,
    EventType.CUSTOMER_CREATED: _customer,
    EventType.MEMBER_JOINED: _member,
    EventType.MEMBER_REMOVED: _member,
}


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def _jsonable(data: Any) -> Any:
    """Exactly what the API would send for ``data`` (Decimals as strings, ISO dates)."""
    return json.loads(JSONRenderer().render(data))


def _enqueue_dispatch(event_id: int) -> None:
    """After commit: hand the event to the workers, once the response has been sent when
    this is a request (ADR 0030: the publish is not on the caller's path). Tests replace
    this to simulate a crash between commit and enqueue; the sweeper must then deliver."""
    from tenant_apps.integrations.tasks import dispatch_webhook_event
    from tenants.background.headers import stamp

    headers = stamp(None)  # the request's tenant, request id and user, taken now

    def publish() -> None:
        # ``delay(event_id)``, with the argument's repr (what logs and monitoring show)
        # given rather than built by Celery's saferepr.
        dispatch_webhook_event.apply_async(
            (event_id,), headers=headers, argsrepr=f"({event_id!r},)", kwargsrepr="{}"
        )

    after_response(publish)


def outbox_write(
    *,
    event_type: str,
    data: Any,
    endpoint_ids: list[int],
    tenant: Any,
    object_pk: int | None = None,
) -> WebhookEvent:
    """Write the outbox row (inside the caller's transaction) and queue its dispatch for
    after commit. With ``object_pk`` (and ``data`` None) the dispatch renders ``data``."""
    public_id = new_event_id()
    event = WebhookEvent.objects.create(
        public_id=public_id,
        type=event_type,
        payload={
            "id": public_id,
            "type": event_type,
            "created": timezone.now().isoformat().replace("+00:00", "Z"),
            "tenant": tenant.subdomain,
            "data": None if object_pk is not None else _jsonable(data),
        },
        endpoint_ids=endpoint_ids,
        object_pk=object_pk,
    )
    event_id = event.pk
    transaction.on_commit(lambda: _enqueue_dispatch(event_id))
    return event


def _subscribed_endpoint_ids(event_type: str) -> list[int]:
    return list(
        WebhookEndpoint.objects.filter(enabled=True, events__contains=[event_type])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _outbox_insert_for_subscribers(event_type: str, object_pk: int, tenant: Any) -> int | None:
    """One statement: write the outbox row for ``object_pk`` with every enabled endpoint
    subscribed to ``event_type`` -- or nothing, when none is. Returns the row's id (None
    when nothing was written). The same SQL whether or not anybody subscribes, so a
    tenant with endpoints pays no extra round trip for its event (SPEC §9)."""
    event, endpoint = WebhookEvent._meta, WebhookEndpoint._meta
    public_id = new_event_id()
    payload = {
        "id": public_id,
        "type": event_type,
        "created": timezone.now().isoformat().replace("+00:00", "Z"),
        "tenant": tenant.subdomain,
        "data": None,
    }
    column = {f.name: f.column for f in event.concrete_fields}
    sql = (
        f'INSERT INTO "{event.db_table}" ("{column["public_id"]}", "{column["type"]}",'  # noqa: S608 - model names
        f' "{column["payload"]}", "{column["object_pk"]}", "{column["endpoint_ids"]}",'
        f' "{column["created"]}")'
        f" SELECT %s, %s, %s::jsonb, %s, jsonb_agg(e.id ORDER BY e.id), %s"
        f' FROM "{endpoint.db_table}" e'
        f" WHERE e.enabled AND e.events @> %s::jsonb HAVING count(*) > 0"
        ' RETURNING "id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                public_id,
                event_type,
                json.dumps(payload),
                object_pk,
                timezone.now(),
                json.dumps([event_type]),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def event_record(event_type: str, target: Any) -> int | None:
    """Record that ``event_type`` happened to ``target``, for every enabled endpoint of
    the current tenant that subscribes to it. Call inside the service's transaction.
    Returns the outbox row's id, or None when nobody subscribes (or the plan no longer
    has webhooks: endpoints stay, nothing is sent)."""
    tenant = current_tenant()
    if not has_feature(tenant, Feature.WEBHOOKS):  # in-process, no SQL on a hit
        return None
    if event_type in RENDER_AT_WRITE:  # rendered now, so only when someone listens
        endpoint_ids = _subscribed_endpoint_ids(event_type)
        if not endpoint_ids:
            return None
        return outbox_write(
            event_type=event_type,
            data=RENDERERS[event_type](target),
            endpoint_ids=endpoint_ids,
            tenant=tenant,
        ).pk
    event_id = _outbox_insert_for_subscribers(event_type, target.pk, tenant)
    if event_id is not None:
        transaction.on_commit(lambda: _enqueue_dispatch(event_id))
    return event_id


class _Ref:
    def __init__(self, pk: int) -> None:
        self.pk = pk


def render_pending(event: WebhookEvent) -> None:
    """Fill in ``data`` of an event recorded with an object reference (the dispatch
    calls it once, before any delivery exists). An object deleted meanwhile is sent as
    ``{"id": pk, "deleted": true}``."""
    if event.object_pk is None:
        return
    try:
        data = RENDERERS[event.type](_Ref(event.object_pk))
    except ObjectDoesNotExist:
        data = {"id": event.object_pk, "deleted": True}
    event.payload = {**event.payload, "data": _jsonable(data)}
    event.object_pk = None
