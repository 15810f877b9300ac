"""The migrated schemas stay compatible with Citus schema-based sharding (ADR 0017).

Citus 12+ distributes a schema as one colocation group that can live on any node and
move between nodes (``citus_schema_move``). It refuses, when a schema is distributed or a
table is created in one: foreign keys from a distributed schema to anything but the same
schema or a reference table, foreign keys into a distributed schema from any other
schema, inheritance, partitions across schemas and foreign tables. These tests read the
catalogs of the test database (tenants alpha and beta, the spare pool, public) and hold
the layout to those rules, so that a migration breaking them fails here first.

What a tenant table needs from public is spelled out, too: users only, by id, with no
constraint; those public tables (and what they reference) are the reference tables a
Citus cluster would need.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from tenants.models import SpareSchema, Tenant
from tests.celery_support import PROBE_TABLES

pytestmark = pytest.mark.django_db

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
# Tenant-app columns that name a public-schema row: resolved by the app, never by a
# database constraint (db_constraint=False). A new one must be added here on purpose,
# with the reason in ADR 0017.
LOGICAL_REFERENCES_TO_PUBLIC = {
    ("audit.AuditEntry.actor", "accounts.User"),
    ("audit.AuditEntry.support_admin", "accounts.User"),
    ("exports.Export.requested_by", "accounts.User"),
    ("integrations.ApiKey.created_by", "accounts.User"),
}
# The public tables a Citus cluster makes reference tables (copied to every node): those
# above and every table they reference in turn (a reference table may only reference
# reference tables). The audit log joins accounts_user (select_related("actor")), which
# in Citus needs it on the tenant's node. Nothing else in public is read by tenant SQL.
REFERENCE_TABLES = {"accounts_user"}


def _tenant_schemas() -> list[str]:
    tenants = list(Tenant.objects.values_list("schema_name", flat=True))
    spares = list(SpareSchema.objects.values_list("schema_name", flat=True))
    assert {"t_alpha", "t_beta"} <= set(tenants) and spares  # the layout is really there
    return sorted(tenants + spares)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


FOREIGN_KEYS = """
    SELECT src_ns.nspname, src.relname, con.conname, dst_ns.nspname, dst.relname
    FROM pg_constraint con
    JOIN pg_class src ON src.oid = con.conrelid
    JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace
    JOIN pg_class dst ON dst.oid = con.confrelid
    JOIN pg_namespace dst_ns ON dst_ns.oid = dst.relnamespace
    WHERE con.contype = 'f'
"""


def _leaving(schemas: list[str]) -> list[tuple]:
    return _rows(
        FOREIGN_KEYS + " AND src_ns.nspname = ANY(%s) AND dst_ns.nspname <> src_ns.nspname",
        [schemas],
    )


def _entering(schemas: list[str]) -> list[tuple]:
    return _rows(
        FOREIGN_KEYS + " AND dst_ns.nspname = ANY(%s) AND src_ns.nspname <> dst_ns.nspname",
        [schemas],
    )


def test_no_foreign_key_leaves_a_tenant_schema():
    assert _leaving(_tenant_schemas()) == []
    # The tenant schemas do have foreign keys, inside themselves (orders -> customers...).
    inside = _rows(FOREIGN_KEYS + " AND src_ns.nspname = 't_alpha'")
    assert {(dst_schema, table) for _, _, _, dst_schema, table in inside} >= {
        ("t_alpha", "orders_customer"),
        ("t_alpha", "catalog_product"),
    }


def test_no_foreign_key_enters_a_tenant_schema_from_another_schema():
    assert _entering(_tenant_schemas()) == []


def test_the_checks_see_what_citus_would_refuse():
    """Control: the queries above do find cross-schema keys and dependencies (made here
    inside the test's transaction, rolled back after it)."""
    schemas = _tenant_schemas()
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE public.citus_probe_seq")
        cursor.execute(
            "CREATE TABLE t_alpha.citus_probe (id bigint DEFAULT nextval('public.citus_probe_seq'),"
            " user_id bigint REFERENCES public.accounts_user (id),"
            " order_id bigint REFERENCES t_beta.orders_order (id))"
        )
        cursor.execute(
            "CREATE TABLE public.citus_probe (order_id bigint REFERENCES t_alpha.orders_order (id))"
        )
    leaving = {(src, dst, table) for src, _, _, dst, table in _leaving(schemas)}
    assert leaving == {
        ("t_alpha", "public", "accounts_user"),
        ("t_alpha", "t_beta", "orders_order"),
    }
    entering = {(src, dst) for src, _, _, dst, _ in _entering(schemas)}
    assert entering == {("public", "t_alpha"), ("t_alpha", "t_beta")}
    assert [row[:3] for row in _foreign_dependencies(schemas)] == [
        ("t_alpha", "pg_attrdef", "public")
    ]


def test_tenant_schemas_hold_only_plain_tables_that_citus_can_distribute():
    schemas = _tenant_schemas()
    # r: table, p: partitioned table, f: foreign table, v/m: views
    kinds = _rows(
        """
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind IN ('p', 'f', 'v', 'm')
        """,
        [schemas],
    )
    assert kinds == []
    inheritance = _rows(
        """
        SELECT child_ns.nspname, child.relname, parent_ns.nspname, parent.relname
        FROM pg_inherits i
        JOIN pg_class child ON child.oid = i.inhrelid
        JOIN pg_namespace child_ns ON child_ns.oid = child.relnamespace
        JOIN pg_class parent ON parent.oid = i.inhparent
        JOIN pg_namespace parent_ns ON parent_ns.oid = parent.relnamespace
        WHERE child_ns.nspname = ANY(%s) OR parent_ns.nspname = ANY(%s)
        """,
        [schemas, schemas],
    )
    assert inheritance == []


def _foreign_dependencies(schemas: list[str]) -> list[tuple]:
    # Objects of other schemas that an object of a tenant schema depends on (pg_depend:
    # sequences behind defaults, functions, types, collations).
    return _rows(
        """
        WITH objects AS (
            SELECT 'pg_class'::regclass AS classid, c.oid, c.relnamespace AS ns
            FROM pg_class c
            UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typnamespace FROM pg_type t
            UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.pronamespace FROM pg_proc p
            UNION ALL SELECT 'pg_collation'::regclass, co.oid, co.collnamespace
            FROM pg_collation co
        )
        SELECT DISTINCT src_ns.nspname, d.classid::regclass::text, dst_ns.nspname,
               d.refclassid::regclass::text, d.refobjid
        FROM pg_depend d
        JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
        JOIN pg_class owner ON owner.oid = ad.adrelid
        JOIN pg_namespace src_ns ON src_ns.oid = owner.relnamespace
        JOIN objects ref ON ref.classid = d.refclassid AND ref.oid = d.refobjid
        JOIN pg_namespace dst_ns ON dst_ns.oid = ref.ns
        WHERE src_ns.nspname = ANY(%s) AND dst_ns.nspname <> src_ns.nspname
          AND dst_ns.nspname <> ALL(%s)
        UNION
        SELECT DISTINCT src_ns.nspname, d.classid::regclass::text, dst_ns.nspname,
               d.refclassid::regclass::text, d.refobjid
        FROM pg_depend d
        JOIN objects src ON src.classid = d.classid AND src.oid = d.objid
        JOIN pg_namespace src_ns ON src_ns.oid = src.ns
        JOIN objects ref ON ref.classid = d.refclassid AND ref.oid = d.refobjid
        JOIN pg_namespace dst_ns ON dst_ns.oid = ref.ns
        WHERE src_ns.nspname = ANY(%s) AND dst_ns.nspname <> src_ns.nspname
          AND dst_ns.nspname <> ALL(%s)
        """,
        [schemas, list(SYSTEM_SCHEMAS), schemas, list(SYSTEM_SCHEMAS)],
    )


def test_tenant_tables_depend_on_nothing_in_another_schema_but_the_system_catalogs():
    """Column types, defaults (sequences), indexes and constraints of a tenant table
    resolve inside its own schema or pg_catalog: moving the schema moves all it needs."""
    schemas = _tenant_schemas()
    types = _rows(
        """
        SELECT n.nspname, c.relname, a.attname, tn.nspname, t.typname FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_namespace tn ON tn.oid = t.typnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped AND tn.nspname <> n.nspname
          AND tn.nspname <> ALL(%s)
        """,
        [schemas, list(SYSTEM_SCHEMAS)],
    )
    assert types == []
    assert _foreign_dependencies(schemas) == []
    # The identity/serial sequences exist, and live next to their tables.
    sequences = _rows(
        """
        SELECT count(*) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
        WHERE s.relkind = 'S' AND n.nspname = 't_alpha'
        """
    )
    assert sequences[0][0] > 5


def test_every_tenant_schema_has_the_same_tables():
    """One layout per tenant: what Citus colocates and moves is the same everywhere."""
    schemas = _tenant_schemas()
    tables = _rows(
        """
        SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'
        """,
        [schemas],
    )
    by_schema: dict[str, set[str]] = {}
    for schema, table in tables:
        by_schema.setdefault(schema, set()).add(table)
    # The Celery tests' probe table lives in the session tenants while those tests run
    # (tests/celery_support.py): a fixture of the suite, not of the product.
    layouts = {frozenset(names - PROBE_TABLES) for names in by_schema.values()}
    assert set(by_schema) == set(schemas) and len(layouts) == 1
    (layout,) = layouts
    assert {"orders_order", "catalog_product", "exports_export", "django_migrations"} <= layout


def _tenant_models():
    labels = {name.rsplit(".", 1)[-1] for name in settings.TENANT_APPS}
    return [model for model in apps.get_models() if model._meta.app_label in labels]


def _shared_only(model) -> bool:
    """A model whose table exists in public only (a shared app that is not also a
    tenant app, like sessions is)."""
    tenant_labels = {name.rsplit(".", 1)[-1] for name in settings.TENANT_APPS}
    return model._meta.app_label not in tenant_labels


def test_what_a_tenant_table_needs_from_public_is_known_and_unconstrained():
    found = set()
    for model in _tenant_models():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            if _shared_only(field.related_model):
                target = field.related_model._meta.label
                found.add((f"{model._meta.label}.{field.name}", target))
                assert field.db_constraint is False, f"{model._meta.label}.{field.name}"
    assert found == LOGICAL_REFERENCES_TO_PUBLIC


def test_the_reference_tables_a_cluster_needs_are_closed_under_their_foreign_keys():
    """A Citus reference table may reference only reference tables: the public tables
    tenant rows name, and everything those reference, are the set to replicate."""
    named = {apps.get_model(target)._meta.db_table for _, target in LOGICAL_REFERENCES_TO_PUBLIC}
    closure, frontier = set(named), set(named)
    while frontier:
        referenced = _rows(
            FOREIGN_KEYS + " AND src_ns.nspname = 'public' AND src.relname = ANY(%s)",
            [sorted(frontier)],
        )
        found = {table for _, _, _, schema, table in referenced if schema == "public"}
        frontier = found - closure
        closure |= found
    assert closure == REFERENCE_TABLES


def test_every_tenant_table_has_a_primary_key_for_online_moves():
    """``citus_schema_move`` with logical replication (the non-blocking mode) needs a
    replica identity on every table it copies: the primary key."""
    schemas = _tenant_schemas()
    without = _rows(
        """
        SELECT n.nspname, c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%s) AND c.relkind = 'r'
          AND NOT EXISTS (
              SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p'
          )
        """,
        [schemas],
    )
    assert without == []
