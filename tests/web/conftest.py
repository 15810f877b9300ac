"""Fixtures of the web-app page tests: Django test clients signed in on a tenant host."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.support import TenantWorld, session_client


@pytest.fixture
def page_client(alpha):
    """``page_client(role)``: a client on alpha's host with a session of alpha's ``role``."""

    def make(role: str = "owner", world: TenantWorld | None = None):
        world = world or alpha
        return session_client(world, world.user(role))

    return make


@pytest.fixture
def in_tenant():
    """``with in_tenant(world):`` runs the block in that tenant's schema."""
    import contextlib

    @contextlib.contextmanager
    def enter(world: TenantWorld):
        connection.set_tenant(world.tenant)
        try:
            yield world.tenant
        finally:
            connection.set_schema_to_public()

    return enter


@pytest.fixture
def tasks_inline():
    """Celery tasks queued by the code under test run in this process, at once (the
    real task code, without a broker): e.g. the invitation email lands in mail.outbox."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def link_in(body: str, host: str) -> str:
    """The first link to ``host`` in an email body."""
    import re

    match = re.search(rf"http://{re.escape(host)}[^\s\"<]+", body)
    assert match, body
    return match.group(0)


def csp_of(response) -> dict[str, str]:
    """The response's Content-Security-Policy as {directive: sources}."""
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the browser fixture screenshots a
    failed journey when it is torn down)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
