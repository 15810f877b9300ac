"""``built_once``: a selector's queryset built once per process, a fresh clone per call,
each tenant's rows through it."""

from __future__ import annotations

import pytest
from django.db import connection

from shared_apps.core.querysets import built_once
from tenant_apps.catalog.models import Product
from tenant_apps.orders import selectors
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_the_queryset_is_built_on_the_first_call_only_and_each_call_gets_a_clone():
    builds = []

    @built_once
    def products():
        builds.append(1)
        return Product.objects.select_related("category")

    first, second = products(), products()
    assert builds == [1]
    assert first is not second and first.query is not second.query
    narrowed = first.filter(name="x").order_by("price")
    narrowed._add_hints(instance=object())  # what a related manager does to its queryset
    third = products()
    assert str(third.query) == str(second.query)  # the filter stayed on its clone
    assert "WHERE" not in str(third.query)
    assert third._hints == {}
    assert products.__name__ == "products"


def test_one_template_reads_each_tenants_own_rows(alpha, beta):
    # The template is built in alpha's schema and then used in beta's: the schema is the
    # transaction's search_path, never part of the queryset.
    connection.set_tenant(alpha.tenant)
    ada = CustomerFactory(name="Ada", email="ada@alpha.test")
    OrderFactory(customer=ada)
    in_alpha = {(c.email, c.order_count) for c in selectors.customer_list()}
    connection.set_tenant(beta.tenant)
    bob = CustomerFactory(name="Bob", email="bob@beta.test")
    OrderFactory(customer=bob)
    OrderFactory(customer=bob)
    in_beta = {(c.email, c.order_count) for c in selectors.customer_list()}
    assert ("ada@alpha.test", 1) in in_alpha and "bob@beta.test" not in dict(in_alpha)
    assert ("bob@beta.test", 2) in in_beta and "ada@alpha.test" not in dict(in_beta)
    assert {o.customer.email for o in selectors.order_list()} >= {"bob@beta.test"}
    assert "ada@alpha.test" not in {o.customer.email for o in selectors.order_list()}
