"""Order and customer writes.

``order_create`` locks the ordered products (``SELECT ... FOR UPDATE``, in primary-key
order so concurrent orders cannot deadlock), checks stock, prices the order from the
current prices and decrements stock, all in one transaction: two orders racing for
the last item never both succeed, and a refused order writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.limits import Limit, limit_check
from shared_apps.core.errors import Conflict, ErrorCode, ValidationFailed
from tenant_apps.audit.actions import AuditAction
from tenant_apps.audit.services import audit_record, audited_delete, audited_update
from tenant_apps.catalog.models import Product, ProductStatus
from tenant_apps.integrations.events import EventType, event_record
from tenant_apps.orders.models import Customer, Order, OrderItem, OrderStatus
from tenants.context import current_tenant

if TYPE_CHECKING:
    from tenant_apps.audit.services import ActingUser

# The columns' limits (Order.total numeric(14, 2)): checked before the insert, so an
# absurd order is a 400 and never a database error.
MAX_ORDER_TOTAL = Decimal("999999999999.99")
MAX_LINE_QUANTITY = 1_000_000


class InsufficientStock(Conflict):
    code = ErrorCode.INSUFFICIENT_STOCK
    message = "Not enough stock for one or more items."


class OrderStateConflict(Conflict):
    code = ErrorCode.ORDER_STATE_CONFLICT


class EmailTaken(Conflict):
    code = ErrorCode.CUSTOMER_EMAIL_TAKEN
    message = "A customer with this email already exists."


# Customers -------------------------------------------------------------------------------


@transaction.atomic
def customer_create(*, name: str, email: str, acting_user: ActingUser) -> Customer:
    if Customer.objects.filter(email__iexact=email).exists():
        raise EmailTaken(fields={"email": [EmailTaken.message]})
    customer = Customer(name=name, email=email.lower())
    customer.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:  # lost a race with the same email
        raise EmailTaken(fields={"email": [EmailTaken.message]}) from exc
    audit_record(
        acting_user=acting_user,
        action=AuditAction.CUSTOMER_CREATED,
        target=customer,
        changes={"name": name, "email": customer.email},
    )
    event_record(EventType.CUSTOMER_CREATED, customer)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, data: dict[str, Any], acting_user: ActingUser
) -> Customer:
    if "email" in data:
        data["email"] = data["email"].lower()
        if Customer.objects.filter(email__iexact=data["email"]).exclude(pk=customer.pk).exists():
            raise EmailTaken(fields={"email": [EmailTaken.message]})
    audited_update(
        instance=customer,
        data=data,
        fields=("name", "email"),
        acting_user=acting_user,
        action=AuditAction.CUSTOMER_UPDATED,
        validate_constraints=False,
    )
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, acting_user: ActingUser) -> None:
    audited_delete(
        instance=customer,
        acting_user=acting_user,
        action=AuditAction.CUSTOMER_DELETED,
        protected="This customer has orders and cannot be deleted.",
    )


# Orders ------------------------------------------------------------------------------------


def _merge_lines(items: list[dict[str, Any]]) -> dict[int, int]:
    quantities: dict[int, int] = defaultdict(int)
    for item in items:
        product = item["product"]
        quantities[product.pk if hasattr(product, "pk") else int(product)] += int(item["quantity"])
    return dict(quantities)


@transaction.atomic
def order_create(
    *, customer: Customer, items: list[dict[str, Any]], notes: str = "", acting_user: ActingUser
) -> Order:
    """Place an order. 409 ``insufficient_stock`` (nothing written) if any line cannot be
    served; 400 if a product is not on sale; 402 if the plan's monthly orders are used."""
    if not items:
        raise ValidationFailed(fields={"items": ["An order needs at least one item."]})
    limit_check(tenant=current_tenant(), limit=Limit.ORDERS_PER_MONTH)
    quantities = _merge_lines(items)
    products = {
        p.pk: p
        for p in Product.objects.select_for_update().filter(pk__in=quantities).order_by("pk")
    }
    missing = sorted(set(quantities) - set(products))
    if missing:
        raise ValidationFailed(fields={"items": [f"Unknown product {pk}." for pk in missing]})
    not_on_sale = sorted(pk for pk, p in products.items() if p.status != ProductStatus.ACTIVE)
    if not_on_sale:
        raise ValidationFailed(
            fields={"items": [f"Product {pk} is not on sale." for pk in not_on_sale]}
        )
    short = {
        str(pk): [f"Requested {qty}, {products[pk].stock} in stock."]
        for pk, qty in quantities.items()
        if products[pk].stock < qty
    }
    if short:
        raise InsufficientStock(fields=short)

    too_many = sorted(pk for pk, qty in quantities.items() if qty > MAX_LINE_QUANTITY)
    if too_many:
        raise ValidationFailed(
            fields={"items": [f"At most {MAX_LINE_QUANTITY} of product {pk}." for pk in too_many]}
        )
    lines = []
    total = Decimal("0.00")
    for pk, qty in quantities.items():
        product = products[pk]
        line_total = product.price * qty
        total += line_total
        lines.append((product, qty, product.price, line_total))
    if total > MAX_ORDER_TOTAL:
        raise ValidationFailed(
            fields={"items": [f"An order total may not exceed {MAX_ORDER_TOTAL}."]}
        )
    order = Order.objects.create(customer=customer, total=total, notes=notes)
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product=p, quantity=q, unit_price=price, line_total=lt)
        for p, q, price, lt in lines
    )
    for product, qty, _, _ in lines:
        Product.objects.filter(pk=product.pk).update(stock=F("stock") - qty)
    audit_record(
        acting_user=acting_user,
        action=AuditAction.ORDER_CREATED,
        target=order,
        changes={
            "customer": customer.pk,
            "total": total,
            "items": {str(pk): qty for pk, qty in quantities.items()},
        },
    )
    event_record(EventType.ORDER_CREATED, order)
    return order


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _restock(order: Order) -> None:
    lines = list(order.items.order_by("product_id").values_list("product_id", "quantity"))
    list(Product.objects.select_for_update().filter(pk__in=[p for p, _ in lines]).order_by("pk"))
    for product_id, quantity in lines:
        Product.objects.filter(pk=product_id).update(stock=F("stock") + quantity)


@transaction.atomic
def order_cancel(*, order: Order, acting_user: ActingUser) -> Order:
    """Cancel a placed or paid order and put its items back in stock, exactly once."""
    order = _locked(order)
    if order.status not in (OrderStatus.PLACED, OrderStatus.PAID):
        raise OrderStateConflict(f"A {order.status} order cannot be canceled.")
    previous = order.status
    _restock(order)
    order.status = OrderStatus.CANCELED
    order.canceled_at = timezone.now()
    order.save(update_fields=["status", "canceled_at", "updated"])
    audit_record(
        acting_user=acting_user,
        action=AuditAction.ORDER_CANCELED,
        target=order,
        changes={"from": previous},
    )
    event_record(EventType.ORDER_CANCELED, order)
    return order


@transaction.atomic
def order_mark_paid(*, order: Order, acting_user: ActingUser) -> Order:
    return _order_advance(
        order,
        acting_user=acting_user,
        expected=OrderStatus.PLACED,
        to=OrderStatus.PAID,
        stamp="paid_at",
        action=AuditAction.ORDER_PAID,
        event=EventType.ORDER_PAID,
        refused="marked paid",
    )


@transaction.atomic
def order_refund(*, order: Order, acting_user: ActingUser) -> Order:
    """Record that a paid order's money was returned (stock is not changed)."""
    return _order_advance(
        order,
        acting_user=acting_user,
        expected=OrderStatus.PAID,
        to=OrderStatus.REFUNDED,
        stamp="refunded_at",
        action=AuditAction.ORDER_REFUNDED,
        event=EventType.ORDER_REFUNDED,
        refused="refunded",
    )


def _order_advance(
    order: Order,
    *,
    acting_user: ActingUser,
    expected: OrderStatus,
    to: OrderStatus,
    stamp: str,
    action: AuditAction,
    event: EventType,
    refused: str,
) -> Order:
    """Move a locked order from ``expected`` to ``to`` (else 409), stamp the time,
    record it in the audit log and as a webhook event. Inside the caller's transaction."""
    order = _locked(order)
    if order.status != expected:
        raise OrderStateConflict(f"A {order.status} order cannot be {refused}.")
    order.status = to
    setattr(order, stamp, timezone.now())
    order.save(update_fields=["status", stamp, "updated"])
    audit_record(acting_user=acting_user, action=action, target=order)
    event_record(event, order)
    return order
