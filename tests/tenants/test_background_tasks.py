"""The tenant-aware task base in process: headers, tenant cache, status rules, routing,
idempotent fan-out items, and the admin (no worker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from celery.app.task import Context
from celery.signals import task_postrun
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.celery import app
from shared_apps.core import observability
from tenants.background import task_context
from tenants.background.fanout import backoff, period_key, retry_failed
from tenants.background.headers import (
    FANOUT_ITEM_HEADER,
    REQUEST_ID_HEADER,
    TENANT_ID_HEADER,
    TENANT_SCHEMA_HEADER,
    for_tenant,
)
from tenants.background.headers import stamp as stamp_headers
from tenants.background.models import FanoutFailure, FanoutItemStatus
from tenants.background.task_context import TaskContext
from tenants.background.tasking import activate, route_task, tenant_cache
from tenants.background.tasks import run_fanout
from tenants.models import Tenant
from tenants.services import tenant_suspend
from tenants.tasks import clear_expired_sessions, replenish_spare_schemas
from tests import celery_support
from tests.background_factories import FanoutFailureFactory, FanoutItemFactory
from tests.background_tasks import flaky, observe, probe, public_observe, slow_effect, tag_event
from tests.factories import UserFactory

# Fixtures (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix


@pytest.fixture
def expired_session(alpha):
    with tenant_context(alpha.tenant):
        Session.objects.create(
            session_key="k" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1)
        )


def _alpha_sessions(alpha) -> int:
    """Alpha's expired sessions (what clear_expired_sessions deletes; browser tests may
    leave live sessions of their own in the schema)."""
    with tenant_context(alpha.tenant):
        return Session.objects.filter(expire_date__lt=timezone.now()).count()


# Sending ---------------------------------------------------------------------------------


def test_messages_carry_the_senders_tenant_and_request_id(alpha):
    tenant = alpha.tenant
    token = observability.bind(request_id="req-123")
    try:
        with tenant_context(tenant):
            headers = stamp_headers(None)
        on_public = stamp_headers({"x": 1})
    finally:
        observability.unbind(token)
    assert headers == {
        TENANT_SCHEMA_HEADER: "t_alpha",
        TENANT_ID_HEADER: tenant.pk,
        REQUEST_ID_HEADER: "req-123",
    }
    assert on_public == {"x": 1, REQUEST_ID_HEADER: "req-123"}
    # Explicit headers win: a dispatcher on public can address any tenant.
    with tenant_context(tenant):
        explicit = stamp_headers({**for_tenant(None), REQUEST_ID_HEADER: "mine"})
    assert explicit == {TENANT_SCHEMA_HEADER: "public", REQUEST_ID_HEADER: "mine"}


def test_on_commit_sends_with_the_tenant_of_the_moment_it_was_asked(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(probe, "apply_async", lambda *a, **kw: sent.append(kw["headers"]))
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(alpha.tenant):
        probe.delay_on_commit("later")
    assert not sent
    # By commit time the connection is back on public; the message still goes to alpha.
    for callback in callbacks:
        callback()
    assert sent and sent[0][TENANT_SCHEMA_HEADER] == "t_alpha"


def test_declared_queues_route_tasks_unless_the_sender_chooses():
    router = app.amqp.router
    assert route_task("tests.slow_effect", (), {}, {}, task=slow_effect) == {"queue": "killtest"}
    assert route_task("tests.probe", (), {}, {}) is None  # by name, no declared queue
    assert router.route({}, "tests.slow_effect", task_type=slow_effect)["queue"].name == (
        "killtest"
    )
    assert router.route({}, "billing.tasks.meter", task_type=None)["queue"].name == "billing"
    assert router.route({}, "tests.probe", task_type=probe)["queue"].name == "default"
    assert (
        router.route({"queue": "bulk"}, "tests.slow_effect", task_type=slow_effect)["queue"].name
        == "bulk"
    )


def test_retries_keep_the_tenant_and_fanout_item_of_the_message():
    request = Context(
        id="abc",
        args=(),
        kwargs={"period": "p"},
        delivery_info={},
        **{TENANT_SCHEMA_HEADER: "t_alpha", TENANT_ID_HEADER: 7, FANOUT_ITEM_HEADER: 9},
    )
    headers = flaky.signature_from_request(request).options["headers"]
    assert headers[TENANT_SCHEMA_HEADER] == "t_alpha" and headers[FANOUT_ITEM_HEADER] == 9


# The worker's tenant cache ---------------------------------------------------------------


def test_tenant_cache_costs_one_statement_and_sees_every_change(alpha, django_assert_num_queries):
    tenant_cache.clear()
    tenant = alpha.tenant
    assert activate("t_alpha", tenant.pk) == tenant
    with django_assert_num_queries(1):  # the schema switch itself
        assert activate("t_alpha") == tenant
    assert connection.schema_name == "t_alpha"
    connection.set_schema_to_public()

    tenant_suspend(tenant=tenant, acting_user=None)  # bumps the routing generation
    assert activate("t_alpha").status == "suspended"
    assert activate("t_alpha", tenant.pk + 1000) is None  # another tenant's message
    assert activate("t_gone") is None
    with django_assert_num_queries(1):  # a missing tenant is remembered too
        assert activate("t_gone") is None
    assert (len(tenant_cache), tenant_cache.unknown_count) == (1, 1)
    tenant_cache.clear()
    assert (len(tenant_cache), tenant_cache.unknown_count) == (0, 0)


# Running ---------------------------------------------------------------------------------


def test_a_tenant_task_runs_in_its_tenant_and_leaves_the_connection_on_public(alpha):
    result = observe.apply(headers=for_tenant(alpha.tenant))
    assert result.get() == {"schema": "t_alpha", "current_schema": "t_alpha"}
    assert connection.schema_name == "public"


def test_writing_tasks_are_refused_for_read_only_tenants(alpha, expired_session):
    tenant = alpha.tenant
    tenant_suspend(tenant=tenant, acting_user=None)
    refused = clear_expired_sessions.apply(kwargs={"period": "x"}, headers=for_tenant(tenant))
    assert refused.state == "IGNORED" and _alpha_sessions(alpha) == 1
    # A task that only reads still runs.
    assert observe.apply(headers=for_tenant(tenant)).get()["schema"] == "t_alpha"


def test_a_writing_task_runs_for_an_active_tenant(alpha, expired_session):
    done = clear_expired_sessions.apply(kwargs={"period": "x"}, headers=for_tenant(alpha.tenant))
    assert done.get() == 1 and _alpha_sessions(alpha) == 0


def test_a_tenant_task_without_a_tenant_or_for_a_deleted_one_is_dropped(alpha, caplog):
    assert observe.apply().state == "IGNORED"
    gone = observe.apply(headers={TENANT_SCHEMA_HEADER: "t_gone", TENANT_ID_HEADER: 999})
    assert gone.state == "IGNORED"
    assert "tenant t_gone no longer exists" in caplog.text
    assert connection.schema_name == "public"


def test_public_tasks_run_on_public_whatever_tenant_queued_them(alpha):
    assert public_observe.apply(headers=for_tenant(alpha.tenant)).get() == "public"


def test_a_task_called_as_a_function_runs_where_the_caller_is(alpha):
    with tenant_context(alpha.tenant):
        assert observe()["schema"] == "t_alpha"


def test_after_any_task_the_connection_is_back_on_public(alpha):
    connection.set_tenant(alpha.tenant)  # e.g. a task that switched by hand
    task_postrun.send(sender=None, task_id="t", task=None)
    assert connection.schema_name == "public"


# Fan-out items (eagerly) ------------------------------------------------------------------


def test_a_fanout_item_runs_once(alpha, expired_session):
    item = FanoutItemFactory(schema_name="t_alpha", run__job="sessions", run__period="p1")
    headers = {**for_tenant(alpha.tenant), FANOUT_ITEM_HEADER: item.pk}
    assert clear_expired_sessions.apply(kwargs={"period": "p1"}, headers=headers).get() == 1
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("succeeded", 1)
    # A duplicate delivery does nothing.
    assert clear_expired_sessions.apply(kwargs={"period": "p1"}, headers=headers).get() is None
    item.refresh_from_db()
    assert item.attempts == 1


def test_a_failing_fanout_item_is_recorded_then_retried(alpha, celery_prefix):
    item = FanoutItemFactory(schema_name="t_alpha")
    headers = {**for_tenant(alpha.tenant), FANOUT_ITEM_HEADER: item.pk}
    flaky.apply(kwargs={"period": "p", "fail_times": {"t_alpha": 1}}, headers=headers)
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("succeeded", 2)
    failure = FanoutFailure.objects.get(item=item)
    assert failure.error == "RuntimeError: boom in t_alpha (try 1)" and failure.will_retry


def test_a_fanout_item_for_a_read_only_tenant_is_skipped(alpha):
    tenant = alpha.tenant
    tenant_suspend(tenant=tenant, acting_user=None)
    item = FanoutItemFactory(schema_name="t_alpha")
    headers = {**for_tenant(tenant), FANOUT_ITEM_HEADER: item.pk}
    assert clear_expired_sessions.apply(kwargs={"period": "p"}, headers=headers).state == (
        "IGNORED"
    )
    item.refresh_from_db()
    assert (item.status, item.last_error) == (FanoutItemStatus.SKIPPED, "tenant suspended")
    item.run.refresh_from_db()
    assert item.run.finished_at is None  # never dispatched: not a finished run


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [
        ("hourly", "2026-11-21T21"),
        ("daily", "2026-11-21"),
        ("weekly", "2026-W47"),
        ("monthly", "2026-11"),
    ],
)
def test_period_keys(cadence, expected):
    assert period_key(cadence, datetime(2026, 11, 21, 21, 30, tzinfo=UTC)) == expected


def test_period_key_rejects_unknown_cadences():
    with pytest.raises(ValueError, match="unknown cadence"):
        period_key("yearly")


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    delays = [backoff(flaky, attempt) for attempt in (1, 2, 3)]
    assert 0.15 <= delays[0] <= 0.25 and 0.3 <= delays[1] <= 0.5 and 0.6 <= delays[2] <= 1.0
    assert backoff(flaky, 30) <= flaky.fanout_backoff_max * 1.25


# Admin -----------------------------------------------------------------------------------


def test_admin_shows_runs_with_their_summary_and_failures(db):
    failure = FanoutFailureFactory(error="RuntimeError: boom in t_beta", item__schema_name="t_beta")
    FanoutItemFactory(run=failure.run, schema_name="t_alpha", succeeded=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory(superuser=True))
    listing = client.get("/admin/tenant_background/fanoutrun/")
    assert listing.status_code == 200 and failure.run.job in listing.text
    detail = client.get(f"/admin/tenant_background/fanoutrun/{failure.run.pk}/change/")
    assert detail.status_code == 200
    assert "RuntimeError: boom in t_beta" in detail.text
    assert "failed: 1" in detail.text and "succeeded: 1" in detail.text


def test_links_sent_after_a_task_body_inherit_its_tenant_and_request_id():
    """Chain links, chord bodies and callbacks are sent once the body has returned and
    the connection is back on public: they take the running task's tenant."""
    running = TaskContext(
        task_id="t-1", schema_name="t_beta", tenant_id=5, request_id="r-1", user_id=None
    )
    token = task_context.bind(running)
    try:
        headers = stamp_headers(None)
    finally:
        task_context.unbind(token)
    assert headers == {
        TENANT_SCHEMA_HEADER: "t_beta",
        TENANT_ID_HEADER: 5,
        REQUEST_ID_HEADER: "r-1",
    }


def test_tenant_and_request_id_tag_error_reports(alpha):
    """The one Sentry tagger (``observability._tag_event``) reads the task's context."""
    tags = tag_event.apply(headers={**for_tenant(alpha.tenant), REQUEST_ID_HEADER: "r-9"}).get()
    assert tags == {"tenant": "t_alpha", "request_id": "r-9"}


def test_fanout_refuses_to_run_inside_a_transaction(alpha):
    with pytest.raises(RuntimeError, match="outside a transaction"):
        run_fanout.apply(kwargs={"job": "j", "task": "tests.observe"}).get()


def test_the_spare_pool_is_replenished_by_a_public_task(alpha, monkeypatch):
    seen = []
    monkeypatch.setattr(
        "tenants.tasks.spare_schemas_replenish", lambda: seen.append(connection.schema_name) or 2
    )
    assert replenish_spare_schemas.apply(headers=for_tenant(alpha.tenant)).get() == 2
    assert seen == ["public"]


def test_nothing_to_retry_sends_nothing(db):
    assert retry_failed(FanoutItemFactory(succeeded=True).run) == 0


# A fan-out item of a tenant this process has cached -------------------------------------------


def _warm(tenant: Tenant) -> None:
    observe.apply(headers=for_tenant(tenant)).get()


def test_a_stale_cached_tenant_is_reloaded_before_its_item_runs(alpha, expired_session):
    tenant = alpha.tenant
    _warm(tenant)  # cached while active
    tenant_suspend(tenant=tenant, acting_user=None)  # the generation moves on
    item = FanoutItemFactory(schema_name="t_alpha")
    headers = {**for_tenant(tenant), FANOUT_ITEM_HEADER: item.pk}
    result = clear_expired_sessions.apply(kwargs={"period": "p"}, headers=headers)
    assert result.state == "IGNORED"  # refused: the reloaded tenant is suspended
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("skipped", 0)
    assert _alpha_sessions(alpha) == 1


def test_a_failure_of_a_cached_tenants_item_is_recorded_and_retried(alpha, celery_prefix):
    tenant = alpha.tenant
    _warm(tenant)
    item = FanoutItemFactory(schema_name="t_alpha")
    headers = {**for_tenant(tenant), FANOUT_ITEM_HEADER: item.pk}
    flaky.apply(kwargs={"period": "p", "fail_times": {"t_alpha": 1}}, headers=headers)
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("succeeded", 2)
    assert FanoutFailure.objects.filter(item=item, attempt=1).exists()


def test_admin_retries_the_tenants_that_failed(db, celery_prefix):
    failed = FanoutItemFactory(failed=True, schema_name="t_beta")
    FanoutItemFactory(run=failed.run, schema_name="t_alpha", succeeded=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(UserFactory(superuser=True))
    response = client.post(
        "/admin/tenant_background/fanoutrun/",
        {"action": "retry_failed_tenants", "_selected_action": [failed.run.pk]},
        follow=True,
    )
    assert response.status_code == 200 and "1 tenant task(s) sent again." in response.text
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (FanoutItemStatus.QUEUED, 0)
