"""tenants/selectors.py: tenant URLs, primary hosts, the admin list and status reasons."""

from __future__ import annotations

from django.test import RequestFactory

from tenants.models import TenantStatus
from tenants.selectors import (
    tenant_admin_list,
    tenant_primary_host,
    tenant_status_reason,
    tenant_url,
)
from tenants.services import tenant_set_status
from tests.factories import DomainFactory, TenantFactory


def test_tenant_url_without_a_request_is_https_on_the_default_port():
    assert tenant_url(host="acme.example.test") == "https://acme.example.test/"


def test_tenant_url_keeps_the_requests_scheme_and_a_non_default_port():
    request = RequestFactory().get("/", SERVER_NAME="localhost", SERVER_PORT="8000")
    assert tenant_url(host="acme.localhost", request=request) == "http://acme.localhost:8000/"
    default_port = RequestFactory().get("/", SERVER_NAME="localhost", SERVER_PORT="80")
    assert tenant_url(host="acme.localhost", request=default_port) == "http://acme.localhost/"


def test_primary_host_is_the_primary_domain_or_none(db):
    without = TenantFactory()
    assert tenant_primary_host(tenant=without) is None
    domain = DomainFactory()
    DomainFactory(tenant=domain.tenant, custom=True)
    assert tenant_primary_host(tenant=domain.tenant) == domain.domain


def test_admin_list_annotates_members_and_primary_domain(alpha):
    rows = {t.schema_name: t for t in tenant_admin_list()}
    assert rows["t_alpha"].member_count == 4
    assert rows["t_alpha"].primary_domain == "alpha.localhost"


def test_status_reason_is_the_reason_of_the_last_change(db):
    tenant = TenantFactory(active=True)
    assert tenant_status_reason(tenant=tenant) == ""  # never changed
    tenant_set_status(tenant=tenant, status=TenantStatus.PAST_DUE, acting_user=None, reason="")
    assert tenant_status_reason(tenant=tenant) == ""
    tenant_set_status(
        tenant=tenant, status=TenantStatus.SUSPENDED, acting_user=None, reason="unpaid"
    )
    assert tenant_status_reason(tenant=tenant) == "unpaid"
    other = TenantFactory(active=True)
    assert tenant_status_reason(tenant=other) == ""  # another tenant's events are not its
