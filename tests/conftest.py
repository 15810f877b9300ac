"""Test fixtures.

Two real tenants (``alpha`` and ``beta``, each with a migrated schema, an owner, a
member and a viewer) and the spare schema pool are created once per session; every test
then runs inside a transaction that is rolled back, so data never leaks between tests.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from shared_apps.accounts.models import User
from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from tenants.models import SpareSchema
from tenants.provisioning import (
    SPARE_PREFIX,
    spare_schema_create,
    spare_schemas_replenish,
    tenant_provision,
)
from tests.factories import PASSWORD
from tests.session_database import copy_schema
from tests.support import TenantWorld, bearer_client, session_world

SESSION_TENANTS = ("alpha", "beta")


@pytest.fixture(scope="session")
def _coverage_paused():
    """Coverage tracing off while the session database is built (migrations, two
    tenants, the spare pool: code the tests cover on their own), which otherwise takes
    about twice as long; ``django_db_setup`` resumes it. Yields the paused Coverage."""
    try:
        import coverage
    except ImportError:  # pragma: no cover - coverage is a dev dependency
        yield None
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.stop()
    yield current


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    _coverage_paused,
    django_test_environment,
    django_db_blocker,
    django_db_modify_db_settings,
):
    """Replaces pytest-django's: this worker's database is a copy of the session template
    (tests/session_database.py), built once for all workers and runs with the same
    migrations and fixture code. Dropped at the end of the session."""
    from tests.session_database import clone_session_database, drop_database

    clone_name = (
        connection.settings_dict["TEST"]["NAME"] or f"test_{connection.settings_dict['NAME']}"
    )
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    base_name = clone_name.removesuffix(f"_{worker}") if worker else clone_name
    try:
        with django_db_blocker.unblock():
            clone_session_database(
                connection,
                clone_name=clone_name,
                base_name=base_name,
                fill=_build_session_database,
                verbosity=max(request.config.option.verbose - 1, 0),
            )
    finally:
        if _coverage_paused is not None:
            _coverage_paused.start()
    yield
    with django_db_blocker.unblock():
        drop_database(connection, clone_name)


def _build_session_database() -> None:
    """What every test finds committed: the tenants alpha and beta (owner, admin, member,
    viewer each) and the spare pool. Runs once, in the template (session_database)."""
    # pytest-django creates no test database when no collected test asks for one:
    # never provision into a real (development) database by accident.
    name = connection.settings_dict["NAME"]
    if not name.startswith("test_") and name != "tessera_bench":
        pytest.fail(f"refusing to create test tenants in database {name!r}")
    _spare_pool_by_copy(len(SESSION_TENANTS) + settings.TENANT_SPARE_SCHEMAS)
    for subdomain in SESSION_TENANTS:  # each takes a spare, as a sign-up does
        tenant = tenant_provision(
            name=f"{subdomain.title()} Ltd",
            subdomain=subdomain,
            owner_email=f"owner@{subdomain}.test",
            owner_password=PASSWORD,
            plan_code="starter",
        ).tenant
        for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
            user = User.objects.create_user(email=f"{role}@{subdomain}.test", password=PASSWORD)
            OrganizationUser.objects.create(
                organization_id=tenant.organization_id, user=user, role=role
            )
    spare_schemas_replenish()
    connection.set_schema_to_public()


def _spare_pool_by_copy(count: int) -> None:
    """``count`` spare schemas: one migrated, the others copies of it (seconds saved per
    schema; tests/session_database.copy_schema). Without pg_dump/psql only the first
    exists and ``spare_schemas_replenish`` migrates the rest."""
    first = spare_schema_create()
    copies = [f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}" for _ in range(count - 1)]
    if copies and copy_schema(connection, first.schema_name, copies):
        SpareSchema.objects.bulk_create(
            SpareSchema(schema_name=name, migration_fingerprint=first.migration_fingerprint)
            for name in copies
        )


@pytest.fixture
def committed_db(request, django_db_setup, django_db_blocker):
    """Database access without the per-test transaction, for tests whose data another
    process or connection must see (a Celery worker, a command's forked workers, a live
    server). Such a test commits, so it cleans up what it wrote; it must not also use
    ``db`` (or the ``django_db`` mark), which would wrap it in a transaction after all.
    For the session tenants, ``tests.support.session_world("alpha")``."""
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        pytest.fail("committed_db and db / django_db exclude each other")
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "not a test database"
        yield


# Modules that start real processes (gunicorn, PgBouncer, a replica, Chromium, Celery
# workers) mark themselves ``xdist_group(__name__)``: a module's tests share its
# module-scoped processes on one xdist worker, and the modules spread over the workers
# (each worker has its own database; Redis keys and Celery queues carry its name).
# A test using one of these fixtures goes to the xdist worker of the fixture's group
# (unless it names a group itself), so that a run starts the shared process once.
GROUP_OF_FIXTURE = {"worker": "celery-worker"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        for fixture, group in GROUP_OF_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(pytest.mark.xdist_group(group))
                break


class _XdistGroupIds:
    """``--dist loadgroup`` schedules by a ``@group`` suffix that xdist 3.8 writes to
    ``item._nodeid``, which pytest 9 no longer reads (the id is ``item._id``): every
    group was silently spread over all workers. Writes the suffix where pytest 9 reads
    it (a no-op once xdist does)."""

    @pytest.hookimpl(trylast=True)  # after xdist's own hook and the one above
    def pytest_collection_modifyitems(self, config, items) -> None:
        if not getattr(config.option, "loadgroup", False):
            return
        from _pytest.nodeid import NodeId

        for item in items:
            names = {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
            if names and "@" not in item.nodeid:
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(names))}")


def pytest_configure(config) -> None:
    config.pluginmanager.register(_XdistGroupIds(), "tessera-xdist-group-ids")


@pytest.fixture
def alpha(db) -> TenantWorld:
    return session_world("alpha")


@pytest.fixture
def beta(db) -> TenantWorld:
    return session_world("beta")


@pytest.fixture
def public_client(db) -> APIClient:
    return APIClient(HTTP_HOST="localhost")


@pytest.fixture
def owner_client(alpha) -> APIClient:
    return bearer_client(alpha, "owner")


@pytest.fixture(autouse=True)
def _fresh_entitlements_cache():
    """A test's rolled-back plan or override changes never reach the next test through
    the entitlements cache (in production every change commits and invalidates)."""
    from billing.entitlements import entitlements_invalidate

    entitlements_invalidate()


@pytest.fixture(autouse=True)
def _connection_starts_on_public():
    """Requests leave the connection on their tenant (as in production); tests start clean."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def in_alpha(alpha):
    """Run the test body inside alpha's schema (as a request or task would)."""
    tenant = alpha.tenant
    connection.set_tenant(tenant)
    yield tenant
    connection.set_schema_to_public()
