"""factory_boy factories for every model, with traits for the common states.

The background-work models (tenants.background) have theirs in background_factories.py;
RoutingGeneration has none: it is one row that a database trigger maintains."""

from __future__ import annotations

import functools
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from billing.models import BillingAccount, Plan, UsageReport, WebhookEvent, WebhookEventStatus
from billing.selectors import DEFAULT_PLAN_CODE
from shared_apps.accounts.models import TenantSecurityPolicy, User
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationOwner,
    OrganizationUser,
)
from shared_apps.organizations.roles import Role
from tenant_apps.catalog.models import ProductStatus
from tenant_apps.exports.models import ExportKind, ExportStatus
from tenant_apps.integrations.events import EventType
from tenant_apps.integrations.models import ApiKeyRole, DeliveryStatus
from tenant_apps.orders.models import OrderStatus
from tenants.data.models import (
    DataExport,
    DataExportStatus,
    DeletionStatus,
    TenantDeletionRecord,
    TenantDeletionRequest,
)
from tenants.models import Domain, SpareSchema, Tenant, TenantEvent, TenantStatus

PASSWORD = "a-long-test-password"


def _hashers() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(settings.PASSWORD_HASHERS)


@functools.lru_cache(maxsize=8)
def _password_hash(raw: str, hashers: tuple[str, ...]) -> str:
    """One salted hash per (password, hasher setting): test users may share it."""
    return make_password(raw)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    # The hash of ``raw_password`` (PASSWORD unless given), computed once per password
    # and hasher setting and written with the row's INSERT: no second save per user.
    password = factory.LazyAttribute(lambda o: _password_hash(o.raw_password, _hashers()))

    class Params:
        raw_password = PASSWORD
        superuser = factory.Trait(is_superuser=True, is_staff=True)
        inactive = factory.Trait(is_active=False)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"plan{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    max_members = 5
    max_products = 100
    max_orders_per_month = 100

    class Params:
        unlimited = factory.Trait(max_members=None, max_products=None, max_orders_per_month=None)
        hidden = factory.Trait(is_public=False)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")

    class Params:
        inactive = factory.Trait(is_active=False)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationUser

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER

    class Params:
        owner = factory.Trait(role=Role.OWNER)
        admin = factory.Trait(role=Role.ADMIN)
        viewer = factory.Trait(role=Role.VIEWER)


class OrganizationOwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationOwner

    organization_user = factory.SubFactory(MembershipFactory, owner=True)
    organization = factory.SelfAttribute("organization_user.organization")


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationInvitation

    guid = factory.Faker("uuid4")
    invitee_identifier = factory.Sequence(lambda n: f"invitee{n}@example.test")
    invited_by = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)


class TenantFactory(factory.django.DjangoModelFactory):
    """A tenant row. No schema is created: use the session tenants (conftest) for
    requests that touch tenant tables, or ``tenant_provision`` for a real one."""

    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    subdomain = factory.Sequence(lambda n: f"factory-{n}")
    schema_name = factory.Sequence(lambda n: f"t_factory_{n}")
    organization = factory.SubFactory(OrganizationFactory)
    plan = factory.LazyFunction(lambda: Plan.objects.get(code=DEFAULT_PLAN_CODE))
    status = TenantStatus.TRIALING
    trial_ends_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=14))

    class Params:
        active = factory.Trait(status=TenantStatus.ACTIVE)
        past_due = factory.Trait(status=TenantStatus.PAST_DUE)
        suspended = factory.Trait(status=TenantStatus.SUSPENDED)
        canceled = factory.Trait(status=TenantStatus.CANCELED)


class DomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Domain

    tenant = factory.SubFactory(TenantFactory)
    domain = factory.LazyAttribute(lambda o: f"{o.tenant.subdomain}.localhost")
    is_primary = True

    class Params:
        custom = factory.Trait(
            is_primary=False, domain=factory.Sequence(lambda n: f"shop{n}.example.test")
        )


class SpareSchemaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpareSchema

    schema_name = factory.Sequence(lambda n: f"spare_factory_{n}")
    migration_fingerprint = "stale"


class BillingAccountFactory(factory.django.DjangoModelFactory):
    """A tenant's Stripe link; traits for the subscription states the code branches on."""

    class Meta:
        model = BillingAccount

    tenant = factory.SubFactory(TenantFactory)
    stripe_customer_id = factory.Sequence(lambda n: f"cus_test{n:06d}")

    class Params:
        subscribed = factory.Trait(
            stripe_subscription_id=factory.Sequence(lambda n: f"sub_test{n:06d}"),
            subscription_status="active",
            current_period_end=factory.LazyFunction(
                lambda: timezone.now() + timezone.timedelta(days=30)
            ),
            synced_at=factory.LazyFunction(timezone.now),
        )
        past_due = factory.Trait(
            stripe_subscription_id=factory.Sequence(lambda n: f"sub_test{n:06d}"),
            subscription_status="past_due",
            past_due_since=factory.LazyFunction(timezone.now),
            synced_at=factory.LazyFunction(timezone.now),
        )


class WebhookEventFactory(factory.django.DjangoModelFactory):
    """A received Stripe event (raw payload as Stripe sends it)."""

    class Meta:
        model = WebhookEvent

    stripe_id = factory.Sequence(lambda n: f"evt_test{n:06d}")
    type = "customer.subscription.updated"
    payload = factory.LazyAttribute(
        lambda o: {"id": o.stripe_id, "object": "event", "type": o.type, "data": {"object": {}}}
    )
    status = WebhookEventStatus.PENDING

    class Params:
        processed = factory.Trait(
            status=WebhookEventStatus.PROCESSED,
            attempts=1,
            processed_at=factory.LazyFunction(timezone.now),
        )
        failed = factory.Trait(status=WebhookEventStatus.FAILED, attempts=1, last_error="boom")
        ignored = factory.Trait(status=WebhookEventStatus.IGNORED, attempts=1)


class UsageReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageReport

    tenant = factory.SubFactory(TenantFactory)
    period = factory.Sequence(lambda n: f"2026-{n % 12 + 1:02d}")
    quantity = 1
    idempotency_key = factory.LazyAttribute(lambda o: f"usage-{o.tenant.pk}-{o.period}")


class TenantSecurityPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantSecurityPolicy
        django_get_or_create = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    mfa_required = False

    class Params:
        mfa = factory.Trait(mfa_required=True)


class DataExportFactory(factory.django.DjangoModelFactory):
    """A full data export of a tenant (public schema, tenants.data)."""

    class Meta:
        model = DataExport

    tenant = factory.SubFactory(TenantFactory)
    status = DataExportStatus.PENDING

    class Params:
        done = factory.Trait(
            status=DataExportStatus.DONE,
            finished=factory.LazyFunction(timezone.now),
            expires_at=factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=7)),
        )
        failed = factory.Trait(
            status=DataExportStatus.FAILED,
            error="boom",
            finished=factory.LazyFunction(timezone.now),
        )


class TenantDeletionRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantDeletionRequest

    tenant = factory.SubFactory(TenantFactory)
    status = DeletionStatus.SCHEDULED
    requested_by_email = "owner@example.test"
    scheduled_for = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=30))

    class Params:
        due = factory.Trait(
            scheduled_for=factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(hours=1))
        )
        canceled = factory.Trait(
            status=DeletionStatus.CANCELED, canceled_at=factory.LazyFunction(timezone.now)
        )
        purging = factory.Trait(status=DeletionStatus.PURGING, attempts=1)


class TenantDeletionRecordFactory(factory.django.DjangoModelFactory):
    """What remains of a deleted tenant (no foreign keys, on purpose)."""

    class Meta:
        model = TenantDeletionRecord

    tenant_pk = factory.Sequence(lambda n: 900000 + n)
    subdomain = factory.Sequence(lambda n: f"gone-{n}")
    schema_name = factory.Sequence(lambda n: f"t_gone_{n}")
    organization_name = factory.LazyAttribute(lambda o: f"{o.subdomain.title()} Ltd")
    requested_by_email = "owner@example.test"
    requested_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=31))
    scheduled_for = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=1))
    deleted_at = factory.LazyFunction(timezone.now)

    class Params:
        files_removed = factory.Trait(files_removed_at=factory.LazyFunction(timezone.now))


class TenantEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantEvent

    tenant = factory.SubFactory(TenantFactory)
    actor = factory.SubFactory(UserFactory)
    action = "tenant.status_changed"
    detail = factory.LazyFunction(dict)


# Tenant-schema models: create them with the connection on a tenant (fixture in_alpha).


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "catalog.Category"

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "catalog.Product"

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    price = Decimal("10.00")
    stock = 10
    status = ProductStatus.ACTIVE
    category = factory.SubFactory(CategoryFactory)

    class Params:
        draft = factory.Trait(status=ProductStatus.DRAFT)
        archived = factory.Trait(status=ProductStatus.ARCHIVED)
        sold_out = factory.Trait(stock=0)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Customer"

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@shop.test")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Order"

    customer = factory.SubFactory(CustomerFactory)
    total = Decimal("0.00")
    status = OrderStatus.PLACED

    class Params:
        paid = factory.Trait(status=OrderStatus.PAID)
        canceled = factory.Trait(status=OrderStatus.CANCELED)
        refunded = factory.Trait(status=OrderStatus.REFUNDED)


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.OrderItem"

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.SelfAttribute("product.price")
    line_total = factory.LazyAttribute(lambda o: o.unit_price * o.quantity)


class ExportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "exports.Export"

    kind = ExportKind.ORDERS_CSV

    class Params:
        done = factory.Trait(status=ExportStatus.DONE)
        failed = factory.Trait(status=ExportStatus.FAILED)


class AuditEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "audit.AuditEntry"

    action = "product.created"
    object_type = "catalog.product"
    object_id = "1"


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An API key made as the service makes it (hashed); the key itself, shown once, is
    left on the instance as ``plain_key``."""

    class Meta:
        model = "integrations.ApiKey"

    name = factory.Sequence(lambda n: f"key {n}")
    role = ApiKeyRole.MEMBER

    class Params:
        admin = factory.Trait(role=ApiKeyRole.ADMIN)
        viewer = factory.Trait(role=ApiKeyRole.VIEWER)
        was_revoked = factory.Trait(revoked=True, revoked_at=factory.LazyFunction(timezone.now))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, key = model_class.objects.create_key(**kwargs)
        api_key.plain_key = key
        return api_key


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "integrations.WebhookEndpoint"

    url = "http://127.0.0.1:18599/hook"  # never contacted unless a test starts a receiver
    events = factory.LazyFunction(lambda: [EventType.ORDER_CREATED.value])
    secret = factory.Sequence(lambda n: f"whsec_factory{n:032d}")

    class Params:
        disabled = factory.Trait(enabled=False, disabled_reason="disabled by hand")


class OutboxEventFactory(factory.django.DjangoModelFactory):
    """A row of the tenant's webhook outbox (integrations.WebhookEvent, not billing's)."""

    class Meta:
        model = "integrations.WebhookEvent"

    public_id = factory.Sequence(lambda n: f"evt_factory{n:010d}")
    type = EventType.ORDER_CREATED
    payload = factory.LazyAttribute(lambda o: {"id": o.public_id, "type": o.type, "data": {}})


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "integrations.WebhookDelivery"

    event = factory.SubFactory(OutboxEventFactory)
    endpoint = factory.SubFactory(WebhookEndpointFactory)
    status = DeliveryStatus.PENDING

    class Params:
        succeeded = factory.Trait(
            status=DeliveryStatus.SUCCEEDED,
            attempts=1,
            last_status_code=200,
            delivered_at=factory.LazyFunction(timezone.now),
        )
        failed = factory.Trait(status=DeliveryStatus.FAILED, attempts=6, last_status_code=500)


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "integrations.WebhookAttempt"

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    number = 1
    started_at = factory.LazyFunction(timezone.now)
    duration_ms = 12
    status_code = 200
