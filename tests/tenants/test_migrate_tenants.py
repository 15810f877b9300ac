"""``manage.py migrate_tenants``: only the behind schemas, in parallel, resumable.

The command forks worker processes, which only see committed data, so these tests run
without the per-test transaction (conftest's ``committed_db``) and clean up after
themselves. Schemas start empty (a tenant row whose schema has no tables yet), so each
real migration here is one tenant's full set; a table created by hand in the way of
``catalog``'s first migration makes a schema fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.selectors import plan_get_for_signup
from shared_apps.organizations.models import Organization
from tenants.migrating import (
    BEHIND,
    CURRENT,
    MISSING,
    SPARE,
    TENANT,
    UNINITIALISED,
    expected_migrations,
    run_lock,
    schema_states,
)
from tenants.models import SpareSchema, Tenant
from tenants.provisioning import migration_fingerprint
from tenants.services import tenant_destroy

pytestmark = pytest.mark.usefixtures("committed_db")

BLOCKER_SQL = 'CREATE TABLE "{schema}".catalog_category (id integer)'  # catalog 0001 needs it


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _empty_tenant(subdomain: str) -> Tenant:
    schema = f"t_{subdomain.replace('-', '_')}"
    _execute(f'CREATE SCHEMA "{schema}"')
    return Tenant.objects.create(
        schema_name=schema,
        subdomain=subdomain,
        name=subdomain,
        organization=Organization.objects.create(name=subdomain, slug=subdomain),
        plan=plan_get_for_signup(code="starter"),
        status="active",
    )


def _spare(schema: str, *, create: bool = True, blocked: bool = False) -> SpareSchema:
    if create:
        _execute(f'CREATE SCHEMA "{schema}"')
    if blocked:
        _execute(BLOCKER_SQL.format(schema=schema))
    return SpareSchema.objects.create(schema_name=schema, migration_fingerprint="older-code")


@pytest.fixture
def made() -> Iterator[dict[str, list[str]]]:
    """Tenants and spares created by a test, removed afterwards (with their schemas)."""
    created: dict[str, list[str]] = {"tenants": [], "spares": []}
    yield created
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(schema_name__in=created["tenants"]):
        tenant_destroy(tenant=tenant)
    SpareSchema.objects.filter(migration_fingerprint="older-code").exclude(
        schema_name__in=created["spares"]
    ).update(migration_fingerprint=migration_fingerprint())
    for schema in created["spares"]:
        SpareSchema.objects.filter(schema_name=schema).delete()
        _execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def migrate_tenants(*args: str) -> str:
    out = StringIO()
    call_command("migrate_tenants", "--no-progress", *args, stdout=out)
    return out.getvalue()


def applied_at(schema: str) -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name, applied FROM "{schema}".django_migrations')
        return {f"{app}.{name}": at for app, name, at in cursor.fetchall()}


def line_of(output: str, schema: str) -> str:
    lines = [line for line in output.splitlines() if line.split()[:1] == [schema]]
    assert len(lines) == 1, output
    return lines[0]


def test_migrates_only_behind_schemas_in_parallel_and_resumes_after_a_failure(made, capsys):
    expected = expected_migrations()
    ok, bad = _empty_tenant("mig-ok"), _empty_tenant("mig-bad")
    made["tenants"] += [ok.schema_name, bad.schema_name]
    _execute(BLOCKER_SQL.format(schema=bad.schema_name))
    stale = SpareSchema.objects.filter(migration_fingerprint=migration_fingerprint()).first()
    assert stale is not None  # the session's pool: migrated, and current
    SpareSchema.objects.filter(pk=stale.pk).update(migration_fingerprint="older-code")
    made["spares"] += ["spare_test_gone", "spare_test_broken"]
    _spare("spare_test_gone", create=False)
    _spare("spare_test_broken", blocked=True)
    alpha_before = applied_at("t_alpha")

    # 1st run: two processes. The good tenant is migrated, the bad one fails and is named.
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 tenant schema\(s\) failed: t_mig_bad\."):
        call_command("migrate_tenants", "--processes", "2", stdout=out)
    first = out.getvalue()
    assert "behind" in first.splitlines()[0]
    assert f"{len(expected)} migration(s) applied" in line_of(first, "t_mig_ok")
    assert "migrated" in line_of(first, "t_mig_ok")
    assert "failed" in line_of(first, "t_mig_bad")
    assert 'relation "catalog_category" already exists' in line_of(first, "t_mig_bad")
    # Spares: the vanished one and the broken one leave the pool; the current one is kept
    # and stamped with this code's fingerprint, so sign-ups can claim it again.
    assert "dropped" in line_of(first, "spare_test_gone")
    assert "dropped" in line_of(first, "spare_test_broken")
    assert not SpareSchema.objects.filter(schema_name__startswith="spare_test_").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'spare_test_broken'")
        assert cursor.fetchone() is None
    stale.refresh_from_db()
    assert stale.migration_fingerprint == migration_fingerprint()
    # Current schemas are not listed (-v 1) and not touched.
    assert "t_alpha" not in first and applied_at("t_alpha") == alpha_before
    assert first.splitlines()[-1].endswith("1 migrated, 1 failed, 2 spare(s) dropped")
    assert "100%" in capsys.readouterr().err  # the progress bar
    assert set(applied_at("t_mig_ok")) >= expected
    partly = applied_at("t_mig_bad")
    assert partly and not set(partly) >= expected  # committed up to the failure

    # 2nd run: nothing was fixed; only the bad schema is tried again.
    ok_before = applied_at("t_mig_ok")
    with pytest.raises(CommandError, match="t_mig_bad"):
        migrate_tenants("--processes", "2")
    assert applied_at("t_mig_ok") == ok_before

    # Fixed: the 3rd run (in this process) resumes where the bad schema stopped.
    _execute('DROP TABLE "t_mig_bad".catalog_category')
    third = migrate_tenants("--processes", "1")
    assert "migrated" in line_of(third, "t_mig_bad") and "t_mig_ok" not in third
    after = applied_at("t_mig_bad")
    assert set(after) >= expected
    assert {key: after[key] for key in partly} == partly  # nothing applied twice
    assert applied_at("t_mig_ok") == ok_before

    # 4th run: everything is current; nothing to do.
    fourth = migrate_tenants("-v", "2")
    assert " 0 behind" in fourth.splitlines()[0]
    assert "current" in line_of(fourth, "t_mig_ok") and "current" in line_of(fourth, "t_alpha")
    assert fourth.splitlines()[-1].endswith("0 migrated, 0 failed")


def test_schema_states_are_read_in_bulk(made):
    behind = _empty_tenant("mig-behind")
    made["tenants"].append(behind.schema_name)
    _execute(
        f'CREATE TABLE "{behind.schema_name}".django_migrations AS '
        "SELECT * FROM t_alpha.django_migrations WHERE app <> 'orders'"
    )
    empty = _empty_tenant("mig-empty")
    made["tenants"].append(empty.schema_name)
    pairs = [
        ("t_alpha", TENANT),
        (behind.schema_name, TENANT),
        (empty.schema_name, TENANT),
        ("t_nowhere", TENANT),
        ("spare_nowhere", SPARE),
    ]
    expected = expected_migrations()
    with CaptureQueriesContext(connection) as captured:
        states = {s.schema_name: s for s in schema_states(pairs, expected=expected)}
    # Which schemas exist, then one count per schema. Outside a transaction each statement
    # runs in one of its own that begins with the routing statement (ADR 0014): not counted.
    work = [q["sql"] for q in captured if "set_config('search_path'" not in q["sql"]]
    assert len(work) == 2, work
    assert states["t_alpha"].state == CURRENT and states["t_alpha"].unapplied == 0
    assert states[behind.schema_name].state == BEHIND
    assert states[behind.schema_name].unapplied == sum(k.startswith("orders.") for k in expected)
    assert states[empty.schema_name].state == UNINITIALISED
    assert states["t_nowhere"].state == MISSING and states["spare_nowhere"].kind == SPARE


def test_check_reports_without_migrating_and_fails_when_behind(made):
    behind = _empty_tenant("mig-check")
    made["tenants"].append(behind.schema_name)
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 schema\(s\) not current: t_mig_check"):
        call_command("migrate_tenants", "--check", "--schemas", "mig-check", stdout=out)
    assert "uninitialised" in line_of(out.getvalue(), "t_mig_check")
    assert schema_states([(behind.schema_name, TENANT)])[0].state == UNINITIALISED
    # A chosen, current tenant: exit 0, and -v 2 lists it.
    assert "current" in line_of(
        migrate_tenants("--check", "--schemas", "t_alpha", "-v", "2"), "t_alpha"
    )


def test_a_tenant_without_its_schema_fails_by_name(made):
    gone = _empty_tenant("mig-gone")
    made["tenants"].append(gone.schema_name)
    _execute(f'DROP SCHEMA "{gone.schema_name}"')
    out = StringIO()
    with pytest.raises(CommandError, match="failed: t_mig_gone"):
        call_command("migrate_tenants", "--no-progress", "--schemas", "t_mig_gone", stdout=out)
    assert "schema does not exist" in line_of(out.getvalue(), "t_mig_gone")


def test_unknown_tenants_are_refused():
    with pytest.raises(CommandError, match=r"unknown tenant\(s\): nope"):
        migrate_tenants("--schemas", "t_alpha,nope")


def test_one_run_at_a_time():
    with run_lock(), pytest.raises(CommandError, match="another migrate_tenants is running"):
        migrate_tenants()
    assert "0 behind" in migrate_tenants("--check", "--schemas", "alpha")
