"""Lookups every sign-up makes over all tenants are served by an index, so a sign-up
costs the same at 10 tenants as at 10,000 (SPEC §9)."""

from __future__ import annotations

import pytest
from django.db import connection

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_the_case_insensitive_schema_name_check_reads_an_index(alpha):
    # django-tenants runs this before inserting a tenant (TenantMixin._check_schema_name).
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # whatever the table's size
    plan = Tenant.objects.filter(schema_name__iexact=alpha.schema_name.upper()).explain()
    assert "tenant_schema_name_upper" in plan, plan
    assert Tenant.objects.filter(schema_name__iexact=alpha.schema_name.upper()).exists()
