"""X-Request-ID, JSON logs and Sentry events all carry the request id, tenant and user."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from celery import Celery
from celery.worker.request import Request
from django.test import override_settings
from rest_framework.test import APIClient
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from shared_apps.core.observability import (
    REQUEST_ID_HEADER,
    ContextFilter,
    JsonFormatter,
    bind,
    current_context,
    sentry_init,
    unbind,
)
from tenants.background import headers
from tests.support import bearer_client, host_client


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# X-Request-ID -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "unknown.example"])
@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me/", "/nothing/"])
def test_every_response_carries_a_generated_request_id(db, host, path):
    first = host_client(host).get(path)
    second = host_client(host).get(path)
    assert len(first[REQUEST_ID_HEADER]) == 32
    assert first[REQUEST_ID_HEADER] != second[REQUEST_ID_HEADER]


def test_a_well_formed_incoming_request_id_is_kept(alpha):
    response = bearer_client(alpha).get("/api/v1/me/", HTTP_X_REQUEST_ID="edge-7f3a.1")
    assert response.status_code == 200
    assert response[REQUEST_ID_HEADER] == "edge-7f3a.1"


@pytest.mark.parametrize("bad", ["", "x" * 129, "a b", 'a"}\n{"forged": 1', "-leading-dash"])
def test_a_malformed_incoming_request_id_is_replaced(db, bad):
    response = host_client("localhost").get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response[REQUEST_ID_HEADER] != bad
    assert len(response[REQUEST_ID_HEADER]) == 32


# JSON logs --------------------------------------------------------------------------------


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_log_lines_of_a_tenant_request_name_request_tenant_and_user(alpha, json_lines):
    response = bearer_client(alpha, "member").get(
        "/api/v1/ops-test/log/", HTTP_X_REQUEST_ID="req-123"
    )
    assert response.status_code == 200
    lines = records(json_lines)
    member_id = str(alpha.user("member").pk)
    view_line = next(line for line in lines if line["message"] == "inside the view")
    assert view_line["request_id"] == "req-123"
    assert view_line["tenant"] == "t_alpha"
    assert view_line["user_id"] == member_id
    assert view_line["level"] == "INFO" and view_line["logger"] == "tests.ops"
    access = next(line for line in lines if line["logger"] == "tessera.access")
    assert access | {"duration_ms": 0} == access | {
        "message": "GET /api/v1/ops-test/log/ 200",
        "method": "GET",
        "path": "/api/v1/ops-test/log/",
        "status": 200,
        "host": "alpha.localhost",
        "request_id": "req-123",
        "tenant": "t_alpha",
        "user_id": member_id,
        "duration_ms": 0,
    }
    assert "time" in access


def test_log_lines_before_routing_or_on_public_host_do_not_guess(db, json_lines):
    host_client("unknown.example").get("/api/v1/me/")
    host_client("localhost").get("/signup/")
    unknown, public = (line for line in records(json_lines) if line["logger"] == "tessera.access")
    assert (unknown["status"], unknown["tenant"], unknown["user_id"]) == (404, None, None)
    assert (public["status"], public["tenant"], public["user_id"]) == (200, "public", None)


def test_session_user_is_logged_once_authentication_has_run(alpha, json_lines):
    from tests.support import session_client

    response = session_client(alpha, alpha.user("viewer")).get("/api/v1/me/")
    assert response.status_code == 200
    access = next(line for line in records(json_lines) if line["logger"] == "tessera.access")
    assert access["user_id"] == str(alpha.user("viewer").pk)


def test_health_probes_log_at_debug_only(db, json_lines):
    host_client("localhost").get("/healthz")
    (access,) = (line for line in records(json_lines) if line["logger"] == "tessera.access")
    assert access["level"] == "DEBUG"


def test_outside_any_request_the_context_is_empty():
    assert current_context() == {"request_id": None, "tenant": None, "user_id": None}


def test_plain_format_carries_the_context_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(request_id)s %(tenant)s %(user_id)s %(message)s"))
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("tests.ops.plain")
    logger.addHandler(handler)
    token = bind(request_id="cmd-1", user_id="9")
    try:
        logger.warning("hello")
    finally:
        unbind(token)
        logger.removeHandler(handler)
    assert stream.getvalue() == "cmd-1 None 9 hello\n"


def test_settings_log_json_through_the_context_filter(settings):
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["context"]
    assert settings.LOGGING["formatters"][handler["formatter"]]
    assert settings.LOG_FORMAT == "json"
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False


# Celery -----------------------------------------------------------------------------------


def test_request_id_and_user_travel_to_a_worker_through_the_broker():
    """Published through a real (in-memory) broker and executed as a worker would."""
    # Not the current app: shared tasks sent later in the session would go to its broker.
    app = Celery("ops-context", broker="memory://", set_as_current=False)

    @app.task(name="ops.context")
    def context_in_worker() -> dict:
        return current_context()

    def publish_and_run(request_id: str | None, user_id: str | None) -> dict:
        with app.connection_for_write() as connection:
            token = bind(request_id=request_id, user_id=user_id)
            try:
                context_in_worker.apply_async(connection=connection)
            finally:
                unbind(token)
            message = connection.SimpleQueue("celery").get(timeout=2)
            return Request(message, app=app, task=context_in_worker).execute()

    seen = publish_and_run("req-to-task", "42")
    assert seen == {"request_id": "req-to-task", "user_id": "42", "tenant": "public"}
    # A task published outside any request gets an id of its own, and no user.
    fresh = publish_and_run(None, None)
    assert fresh["request_id"] and fresh["request_id"] != "req-to-task"
    assert fresh["user_id"] is None
    assert current_context()["request_id"] is None  # unbound after each task


def test_a_tenant_task_logs_its_tenant_schema(alpha, json_lines):
    from config.celery import app

    @app.task(name="ops.tenant_log", bind=True)
    def tenant_log(self) -> None:
        logging.getLogger("tests.ops.task").info("in the task")

    tenant_log.apply(
        headers={
            "_schema_name": alpha.schema_name,
            headers.REQUEST_ID_HEADER: "req-9",
            headers.USER_ID_HEADER: "5",
        }
    )
    line = next(line for line in records(json_lines) if line["message"] == "in the task")
    assert (line["tenant"], line["request_id"], line["user_id"]) == (
        alpha.schema_name,
        "req-9",
        "5",
    )
    assert current_context()["request_id"] is None  # unbound after the task


# Sentry -----------------------------------------------------------------------------------


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type in ("event", "transaction") and item.payload.json:
                self.events.append(item.payload.json)


@pytest.fixture
def sentry_events() -> Iterator[list[dict]]:
    transport = CapturingTransport()
    assert sentry_init(
        dsn="https://public@sentry.invalid/1",
        environment="test",
        release="ops-test",
        transport=transport,
    )
    yield transport.events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a client that sends nothing


def test_sentry_is_off_without_a_dsn():
    assert sentry_init(dsn="", environment="test") is False


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_request_error_reaches_sentry_tagged_and_without_pii(alpha, sentry_events):
    client: APIClient = bearer_client(alpha, "owner")
    client.raise_request_exception = False
    response = client.get("/api/v1/ops-test/boom/?password=hunter2", HTTP_X_REQUEST_ID="req-boom")
    assert response.status_code == 500
    assert response[REQUEST_ID_HEADER] == "req-boom"
    sentry_sdk.flush()
    (event,) = [e for e in sentry_events if e.get("exception")]
    assert event["exception"]["values"][-1]["value"] == "boom for the ops tests"
    owner_id = str(alpha.user("owner").pk)
    assert event["tags"]["tenant"] == "t_alpha"
    assert event["tags"]["request_id"] == "req-boom"
    assert event["tags"]["user_id"] == owner_id
    assert event["user"] == {"id": owner_id}  # no email, no IP address
    assert event["environment"] == "test" and event["release"] == "ops-test"
    request = event["request"]
    assert "Authorization" not in request.get("headers", {})
    assert "Cookie" not in request.get("headers", {})
    assert "data" not in request or not request["data"]


def test_a_task_error_reaches_sentry_tagged_with_its_tenant(alpha, sentry_events, json_lines):
    from config.celery import app

    @app.task(name="ops.tenant_boom")
    def tenant_boom() -> None:
        raise ValueError("task failed for the ops tests")

    result = tenant_boom.apply(
        headers={
            "_schema_name": alpha.schema_name,
            headers.REQUEST_ID_HEADER: "req-task",
            headers.USER_ID_HEADER: "77",
        }
    )
    assert result.failed()
    # Celery's own failure line, written after the task body, names the tenant too.
    failure = next(line for line in records(json_lines) if line["logger"] == "celery.app.trace")
    assert (failure["tenant"], failure["request_id"]) == (alpha.schema_name, "req-task")
    sentry_sdk.flush()
    (event,) = [e for e in sentry_events if e.get("exception")]
    assert event["tags"]["tenant"] == alpha.schema_name
    assert event["tags"]["request_id"] == "req-task"
    assert event["tags"]["user_id"] == "77"
