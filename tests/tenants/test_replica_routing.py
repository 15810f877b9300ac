"""The replica's routing rules without a replica (tests/tenants/test_replicas.py runs a
real one): who may read from it, its database settings, the read-your-writes check."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS
from django.test import RequestFactory, override_settings

from config.settings.base import with_replica
from tenant_apps.catalog.models import Product
from tenants import replicas
from tenants.replicas import REPLICA_ALIAS, ReplicaRouter, check_read_your_writes

router = ReplicaRouter()


def test_outside_a_replica_request_everything_reads_and_writes_the_primary():
    # Tasks, commands, shells, the admin and write requests never enter reads_from.
    assert router.db_for_read(Product) == DEFAULT_DB_ALIAS
    assert router.db_for_write(Product) == DEFAULT_DB_ALIAS


def test_a_replica_request_reads_the_replica_until_its_first_write():
    with replicas.reads_from(REPLICA_ALIAS) as state:
        assert router.db_for_read(Product) == REPLICA_ALIAS
        assert router.db_for_write(Product) == DEFAULT_DB_ALIAS
        assert state.wrote
        assert router.db_for_read(Product) == DEFAULT_DB_ALIAS  # pinned after the write
    assert router.db_for_read(Product) == DEFAULT_DB_ALIAS


@pytest.mark.django_db
def test_reads_inside_a_transaction_on_the_primary_stay_there():
    # (the test's own transaction is open on the primary)
    with replicas.reads_from(REPLICA_ALIAS):
        assert router.db_for_read(Product) == DEFAULT_DB_ALIAS


def test_the_replica_is_never_migrated():
    assert router.allow_migrate(REPLICA_ALIAS, "catalog") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "catalog") is None


def test_without_a_replica_url_there_is_one_database():
    databases = {"default": {"NAME": "x"}}
    assert with_replica(databases, "") is databases


def test_the_replica_alias_uses_the_tenant_backend_and_gives_up_quickly():
    databases = with_replica({"default": {}}, "postgres://u:p@replica.internal:5432/tessera")
    replica = databases[REPLICA_ALIAS]
    assert replica["ENGINE"] == "tenants.postgresql_backend"
    assert replica["HOST"] == "replica.internal"
    assert replica["CONNECT_RETRY_SECONDS"] == 0
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert replica["OPTIONS"]["prepare_threshold"] is None
    assert replica["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert replica["TEST"] == {"MIRROR": "default"}


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_sticky_window_must_cover_the_lag_bound(settings):
    settings.DATABASES = {**settings.DATABASES, REPLICA_ALIAS: {}}
    settings.REPLICA_MAX_LAG_SECONDS = 5
    settings.REPLICA_STICKY_SECONDS = 5
    assert [e.id for e in check_read_your_writes()] == ["tenants.E001"]
    settings.REPLICA_STICKY_SECONDS = 6
    assert check_read_your_writes() == []


class _Tenant:
    schema_name = "t_sticky_test"


def test_a_write_makes_that_client_and_only_it_read_the_primary():
    factory = RequestFactory()
    writer = factory.post("/api/v1/products/", HTTP_AUTHORIZATION="Bearer writer-token")
    reader = factory.get("/api/v1/products/", HTTP_AUTHORIZATION="Bearer reader-token")
    again = factory.get("/api/v1/products/", HTTP_AUTHORIZATION="Bearer writer-token")
    from django.http import HttpResponse

    with override_settings(REPLICA_STICKY_SECONDS=5):
        replicas.mark_wrote(writer, HttpResponse(), _Tenant())
    assert replicas.wrote_recently(again, _Tenant())
    assert not replicas.wrote_recently(reader, _Tenant())
    other_tenant = type("Other", (), {"schema_name": "t_other_sticky"})()
    assert not replicas.wrote_recently(again, other_tenant)


def test_a_login_makes_the_new_session_read_the_primary():
    from django.conf import settings
    from django.http import HttpResponse

    factory = RequestFactory()
    login = factory.post("/accounts/login/")
    response = HttpResponse()
    response.set_cookie(settings.SESSION_COOKIE_NAME, "fresh-session-key")
    replicas.mark_wrote(login, response, _Tenant())
    follow = factory.get("/")
    follow.COOKIES[settings.SESSION_COOKIE_NAME] = "fresh-session-key"
    assert replicas.wrote_recently(follow, _Tenant())


def test_redis_down_counts_as_a_recent_write(settings):
    # A real client of a port nothing listens on: the marker cannot be read.
    settings.CACHES = {
        **settings.CACHES,
        "shared": {**settings.CACHES["shared"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    request = RequestFactory().get("/", HTTP_AUTHORIZATION="Bearer someone")
    assert replicas.wrote_recently(request, _Tenant())
