"""factory_boy factories for every model, with traits for the common states."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from billing.models import Plan
from shared_apps.accounts.models import User
from shared_apps.organizations.models import (
    Organization,
    OrganizationInvitation,
    OrganizationOwner,
    OrganizationUser,
)
from shared_apps.organizations.roles import Role
from tenants.models import Domain, SpareSchema, Tenant, TenantEvent, TenantStatus

PASSWORD = "a-long-test-password"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    class Params:
        superuser = factory.Trait(is_superuser=True, is_staff=True)
        inactive = factory.Trait(is_active=False)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


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
    plan = factory.LazyFunction(lambda: Plan.objects.get(code="free"))
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
    status = "active"
    category = factory.SubFactory(CategoryFactory)

    class Params:
        draft = factory.Trait(status="draft")
        archived = factory.Trait(status="archived")
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
    status = "placed"

    class Params:
        paid = factory.Trait(status="paid")
        canceled = factory.Trait(status="canceled")
        refunded = factory.Trait(status="refunded")


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

    kind = "orders_csv"

    class Params:
        done = factory.Trait(status="done")


class AuditEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "audit.AuditEntry"

    action = "product.created"
    object_type = "catalog.product"
    object_id = "1"
