"""The schema DDL statements, each written once, with names quoted by
``django_tenants.utils.quote_schema_name`` (never by hand). They run on the default
connection, in the caller's transaction if there is one."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import quote_schema_name


def schema_create(schema_name: str) -> None:
    _execute(f"CREATE SCHEMA {quote_schema_name(schema_name)}")


def schema_drop(schema_name: str) -> None:
    """Drop the schema and everything in it, if it exists."""
    _execute(f"DROP SCHEMA IF EXISTS {quote_schema_name(schema_name)} CASCADE")


def schema_rename(schema_name: str, new_name: str) -> None:
    _execute(
        f"ALTER SCHEMA {quote_schema_name(schema_name)} RENAME TO {quote_schema_name(new_name)}"
    )


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)
