"""The session database, migrated once and cloned per xdist worker.

Building the session database (the shared schema, two tenants with migrated schemas,
their users, the spare pool) takes seconds of migrations; built by every xdist worker at
once, the workers fight over two cores and each waits ~14 s. Instead, the first worker
to get here builds it once as a *template database* and every worker (this run's and
later runs') copies it with ``CREATE DATABASE test_x TEMPLATE template``: a file-level
copy, well under a second.

The template's name carries a digest of everything its content depends on (below,
``template_key``): the migration files, the code that fills it, the installed packages,
the settings that shape it, and today's date (the session tenants' trials are dated). A
changed migration or fixture therefore gets a new template, never a stale one; the
template of an older digest is dropped when a new one is built. ``TESSERA_TEST_TEMPLATE=
rebuild`` forces a rebuild.

Workers take a PostgreSQL advisory lock around "build if missing, then clone", so the
build happens once and a template is never dropped while a worker copies it (CREATE
DATABASE refuses a template that has other sessions, so the build closes its own
connections before the lock is released).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The code that fills the template (besides the migrations and the packages).
FILLING_CODE = (
    "tests/conftest.py",
    "tests/session_database.py",
    "tenants/provisioning.py",
    "requirements.lock",
)
# Settings whose values shape what migrations and provisioning write.
SHAPING_SETTINGS = (
    "SHARED_APPS",
    "TENANT_APPS",
    "INSTALLED_APPS",
    "TENANT_SPARE_SCHEMAS",
    "MIGRATION_MODULES",
    "PASSWORD_HASHERS",
)
SKIPPED_DIRECTORIES = {"tests", "node_modules", "__pycache__", "docs", "terraform"}
TEMPLATE_MARK = "_template_"
# pg_advisory_lock key: "tessera test template" (any constant unique to this use).
LOCK_KEY = 0x7E55_7E57_0001


def _migration_files() -> list[Path]:
    """Every file in a ``*migrations`` package of the project's own code."""
    files = []
    for top, directories, names in os.walk(ROOT):
        here = Path(top)
        # Prune what is not the project's code (the virtualenv alone has ~100k files).
        directories[:] = sorted(
            d for d in directories if not d.startswith(".") and d not in SKIPPED_DIRECTORIES
        )
        if here.name.endswith("migrations"):
            files += [here / name for name in sorted(names) if not name.endswith(".pyc")]
    return files


def template_key(extra: str = "") -> str:
    """A digest of everything the template's content depends on."""
    from django.conf import settings

    digest = hashlib.sha256()
    for path in [*_migration_files(), *(ROOT / name for name in FILLING_CODE)]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<absent>")
        digest.update(b"\0")
    for name in SHAPING_SETTINGS:
        digest.update(f"{name}={getattr(settings, name, None)!r}\0".encode())
    digest.update(datetime.datetime.now(datetime.UTC).date().isoformat().encode())
    digest.update(extra.encode())
    return digest.hexdigest()[:12]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _server_cursor(connection: Any) -> Iterator[Any]:
    """A cursor on the maintenance database (not the test database), autocommit."""
    with connection._nodb_cursor() as cursor:
        yield cursor


def _exists(cursor: Any, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _drop(cursor: Any, name: str) -> None:
    cursor.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


def clone_session_database(
    connection: Any,
    *,
    clone_name: str,
    base_name: str,
    fill: Callable[[], None],
    verbosity: int = 0,
) -> str:
    """Point ``connection`` at a fresh database ``clone_name`` copied from the current
    template (built first, with ``fill`` run in it, if there is none). Returns the
    template's name."""
    from django.conf import settings

    template = f"{base_name}{TEMPLATE_MARK}{template_key()}"
    with _server_cursor(connection) as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            rebuild = os.environ.get("TESSERA_TEST_TEMPLATE") == "rebuild"
            if rebuild or not _exists(cursor, template):
                _build_template(connection, template, fill=fill, verbosity=verbosity)
                cursor.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                    [f"{base_name}{TEMPLATE_MARK}%", template],
                )
                for (stale,) in cursor.fetchall():
                    _drop(cursor, stale)
            _drop(cursor, clone_name)
            cursor.execute(f"CREATE DATABASE {_quote(clone_name)} TEMPLATE {_quote(template)}")
            _throwaway(cursor, clone_name)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = clone_name
    connection.settings_dict["NAME"] = clone_name
    connection.ensure_connection()
    return template


def _build_template(connection: Any, template: str, *, fill: Callable[[], None], verbosity: int):
    """Migrate a new database under a temporary name, fill it, close every connection to
    it and rename it to ``template`` (so a half-built template is never found)."""
    building = f"{template}_building"
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved = test_settings.get("NAME")
    test_settings["NAME"] = building
    with _server_cursor(connection) as cursor:
        _drop(cursor, building)
        cursor.execute(f"CREATE DATABASE {_quote(building)}")
        _throwaway(cursor, building)
    try:
        # Django's own test-database creation on the database just made (keepdb): migrate
        # (django-tenants' migrate_schemas for the shared apps), createcachetable.
        connection.creation.create_test_db(
            verbosity=verbosity, autoclobber=True, serialize=False, keepdb=True
        )
        fill()
    finally:
        test_settings["NAME"] = saved
        connection.close()
    with _server_cursor(connection) as cursor:
        _drop(cursor, template)
        cursor.execute(f"ALTER DATABASE {_quote(building)} RENAME TO {_quote(template)}")


def _throwaway(cursor: Any, name: str) -> None:
    """Commits of a test database need not wait for the disk: a crash loses a throw-away
    database's last transactions, never its consistency (not inherited by copies)."""
    cursor.execute(f"ALTER DATABASE {_quote(name)} SET synchronous_commit = off")


def drop_database(connection: Any, name: str) -> None:
    connection.close()
    with _server_cursor(connection) as cursor:
        _drop(cursor, name)


# Copying a migrated schema --------------------------------------------------------------


def _client_binary(name: str) -> str | None:
    """``name`` (pg_dump, psql) of the embedded PostgreSQL's own installation, else PATH's."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        POSTGRES_BIN_PATH = None
    if POSTGRES_BIN_PATH is not None and (Path(POSTGRES_BIN_PATH) / name).exists():
        return str(Path(POSTGRES_BIN_PATH) / name)
    return shutil.which(name)


def copy_schema(connection: Any, source: str, targets: list[str]) -> bool:
    """Make each of ``targets`` an exact copy of schema ``source`` (tables, indexes,
    constraints, sequences and rows: for a freshly migrated schema, its
    ``django_migrations`` rows), with ``pg_dump``/``psql``: a tenant migration plan costs
    seconds of Django's migration machinery, a copy a fraction of one. Returns False
    (nothing done) when the client programs are missing or refuse the server's version:
    the caller then migrates."""
    pg_dump, psql = _client_binary("pg_dump"), _client_binary("psql")
    if not (pg_dump and psql):
        return False
    fields = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": fields.get("PASSWORD") or ""}
    common = ["-h", fields["HOST"] or "localhost", "-U", fields["USER"] or "postgres"]
    if fields.get("PORT"):
        common += ["-p", str(fields["PORT"])]
    common += ["-d", fields["NAME"]]
    dumped = subprocess.run(
        [pg_dump, *common, "--schema", source, "--no-owner", "--no-privileges"],
        capture_output=True,
        text=True,
        env=env,
    )
    if dumped.returncode != 0:
        return False
    pattern = re.compile(rf"\b{re.escape(source)}\b")
    script = "".join(pattern.sub(target, dumped.stdout) for target in targets)
    connection.close()  # psql commits on its own connection
    subprocess.run(
        [psql, *common, "-q", "-v", "ON_ERROR_STOP=1", "-X"],
        input=script,
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    return True
