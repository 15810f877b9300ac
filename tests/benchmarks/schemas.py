"""Many real tenant schemas, cheaply, for the scale figures of ``make bench``.

Migrating a schema runs Django's migration machinery (seconds); the benchmark needs
hundreds to thousands of them. Instead, the SQL that the tenant migrations emit (what
``sqlmigrate`` prints for each of them, collected once for the whole plan) is replayed
into each new schema, and the ``django_migrations`` rows a migrated schema holds are
inserted with it: the result has the same tables, indexes and constraints, and counts as
fully migrated for ``migrate_schemas`` and ``migrate_tenants`` alike. Tenant,
organisation and domain rows are bulk-inserted.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

PREFIX = "bench-n"  # subdomains bench-n00000, ...; schemas t_bench_n00000, ...


@dataclass(frozen=True)
class TenantSchemaSQL:
    ddl: str  # every tenant migration's SQL, unqualified (runs in the search_path schema)
    recorded: tuple[tuple[str, str], ...]  # (app, name) a migrated tenant schema records


@functools.cache
def tenant_schema_sql() -> TenantSchemaSQL:
    """Collect the SQL of the full migration plan as a tenant schema runs it (the router
    skips shared apps there), plus the migrations that run records."""
    db = connection
    db.set_schema("bench_template")  # a tenant schema name: TenantSyncRouter's view
    try:
        executor = MigrationExecutor(db)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
        with db.schema_editor(collect_sql=True, atomic=False) as editor:
            editor.create_model(MigrationRecorder.Migration)
        statements = list(editor.collected_sql)
        # What sqlmigrate does per migration, with one state carried through the plan.
        state = ProjectState(real_apps=executor.loader.unmigrated_apps)
        for migration, _backwards in plan:
            with db.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                state = migration.apply(state, editor, collect_sql=True)
            statements += editor.collected_sql
    finally:
        db.set_schema_to_public()
    lines = [
        line
        for statement in statements
        for line in statement.splitlines()
        if line.strip() and not line.lstrip().startswith("--")
    ]
    recorded = tuple((m.app_label, m.name) for m, _backwards in plan)
    return TenantSchemaSQL(ddl="\n".join(lines), recorded=recorded)


def _schema_script(schema: str, sql: TenantSchemaSQL) -> str:
    values = ",".join(f"('{app}', '{name}', now())" for app, name in sql.recorded)
    return (
        f'CREATE SCHEMA "{schema}";\n'
        f'SET LOCAL search_path TO "{schema}", public;\n{sql.ddl}\n'
        f"INSERT INTO django_migrations (app, name, applied) VALUES {values};\n"
    )


def create_schemas(names: list[str], *, per_transaction: int = 10, threads: int = 2) -> None:
    """Create migrated tenant schemas ``names``: a few per transaction (each table and
    index takes a lock until commit, and the server's lock table is small), on
    ``threads`` connections at once (the work is the server's, one backend per core)."""
    sql = tenant_schema_sql()

    def create(part: list[str]) -> None:
        try:
            for start in range(0, len(part), per_transaction):
                chunk = part[start : start + per_transaction]
                script = "".join(_schema_script(n, sql) for n in chunk)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(script)
                connection.search_path_set_schemas = None  # SET LOCAL ended with it
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()  # each thread has its own connection

    if threads <= 1 or len(names) < 2 * per_transaction:
        create(names)
        return
    parts = [names[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(create, part) for part in parts]:
            future.result()


def create_spare() -> str:
    """A spare schema for the pool, as ``ensure_spare_schemas`` would leave it (untimed
    set-up of the provisioning figures: the pool is refilled off the request path)."""
    from tenants.models import SpareSchema
    from tenants.provisioning import SPARE_PREFIX, migration_fingerprint

    name = f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}"
    create_schemas([name])
    SpareSchema.objects.create(schema_name=name, migration_fingerprint=migration_fingerprint())
    return name


def drop_spares() -> None:
    """Empty the pool of spares usable by this code (sign-up then migrates in the request)."""
    from tenants.models import SpareSchema
    from tenants.provisioning import migration_fingerprint

    for spare in SpareSchema.objects.filter(migration_fingerprint=migration_fingerprint()):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{spare.schema_name}" CASCADE')
        spare.delete()


def bench_tenant_count() -> int:
    from tenants.models import Tenant

    return Tenant.objects.filter(subdomain__startswith=PREFIX).count()


def grow_tenants(total: int, *, progress: bool = True) -> float:
    """Add cheap tenants (schema, organisation, tenant, domain) until ``total`` exist;
    returns the seconds it took."""
    from billing.selectors import plan_get_for_signup
    from shared_apps.organizations.models import Organization
    from tenants.models import Domain, Tenant
    from tenants.naming import tenant_host

    started = time.perf_counter()
    have = bench_tenant_count()
    plan = plan_get_for_signup(code="pro")
    batch = 250
    for start in range(have, total, batch):
        numbers = range(start, min(total, start + batch))
        subdomains = [f"{PREFIX}{n:05d}" for n in numbers]
        schemas = [f"t_{s.replace('-', '_')}" for s in subdomains]
        create_schemas(schemas)
        with transaction.atomic():
            organizations = Organization.objects.bulk_create(
                [Organization(name=s, slug=s) for s in subdomains]
            )
            tenants = Tenant.objects.bulk_create(
                [
                    Tenant(
                        schema_name=schema,
                        subdomain=subdomain,
                        name=subdomain,
                        organization=organization,
                        plan=plan,
                        status="active",
                    )
                    for schema, subdomain, organization in zip(
                        schemas, subdomains, organizations, strict=True
                    )
                ]
            )
            Domain.objects.bulk_create(
                [
                    Domain(domain=tenant_host(t.subdomain), tenant=t, is_primary=True)
                    for t in tenants
                ]
            )
        if progress:
            print(f"  ... {start + len(numbers)} tenants", flush=True)
    if total > have:
        # The catalogs as a live system has them (tenants arrive over months, and
        # autovacuum keeps up): vacuumed, with fresh planner statistics. Otherwise
        # autovacuum works through thousands of new schemas' rows during the timed phase.
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM (ANALYZE) tenants_tenant, tenants_domain, organizations_organization, "
                "pg_catalog.pg_namespace, pg_catalog.pg_class, pg_catalog.pg_attribute, "
                "pg_catalog.pg_type, pg_catalog.pg_depend, pg_catalog.pg_index, "
                "pg_catalog.pg_constraint, pg_catalog.pg_attrdef, pg_catalog.pg_sequence"
            )
    return time.perf_counter() - started


def bench_hosts(count: int) -> list[str]:
    from tenants.naming import tenant_host

    return [tenant_host(f"{PREFIX}{n:05d}") for n in range(count)]
