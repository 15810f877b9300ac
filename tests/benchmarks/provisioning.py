"""Sign-up figures: pool vs stock, flat as tenant migrations accumulate, flat as tenants grow.

* ``signup_times(runs, pooled=...)``: the real ``tenant_provision`` (validation, PBKDF2,
  user, organisation, schema, domain, membership, audit event, one transaction), with a
  usable spare in the pool (Tessera) or with none (the schema is created and migrated on
  the request path, as stock django-tenants' ``auto_create_schema`` does).
* ``run_child(extra_migrations=...)``: the same, in a separate process whose settings
  (``tests.benchmarks.settings.bench``) append a generated tenant app with that many no-op
  migrations to TENANT_APPS, on the same throw-away database. Run with 0 and 50,
  alternately, a few times: the pool must not care, the stock path pays for every
  migration.

Refilling the pool is not part of a sign-up (a Celery task does it after commit), so
the pooled runs find one spare each in the pool, built before the first is timed; the
spares are built by replaying the tenant migrations' SQL (tests/benchmarks/schemas.py),
which is quicker than ``ensure_spare_schemas`` and yields the same schema.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRA_APP = "bench_extra"
# Unlike any generated email address (Django's similarity validator compares the two).
PASSWORD = "Zq7!vX9#mK2$wL5^"


def signup_times(runs: int, *, pooled: bool, label: str) -> list[float]:
    """Seconds of ``runs`` sign-ups (after one untimed); the tenants are destroyed after."""
    from tenants.migrating import CURRENT, TENANT, expected_migrations, schema_states
    from tenants.models import Tenant
    from tenants.provisioning import tenant_provision
    from tenants.services import tenant_destroy
    from tests.benchmarks.schemas import create_spare, drop_spares

    expected = expected_migrations()
    run_id = uuid.uuid4().hex[:6]
    seconds = []
    try:
        # The pool as a sign-up finds it: spares built a while before (by the refill
        # task, off the request path), not a moment before the clock starts -- a schema
        # just created leaves the server busy with its catalog and WAL.
        if pooled:
            for _ in range(runs + 1):
                create_spare()
        else:
            drop_spares()
        for n in range(runs + 1):  # the first one warms up (imports, caches) and is not kept
            started = time.perf_counter()
            provisioned = tenant_provision(
                name=f"Bench {label} {n}",
                subdomain=f"bench-{label}-{run_id}-{n}",
                owner_email=f"owner{n}@{label}-{run_id}.bench",
                owner_password=PASSWORD,
                plan_code="pro",
            )
            if n:
                seconds.append(time.perf_counter() - started)
            used_spare = provisioned.tenant.events.get().detail["used_spare_schema"]
            assert used_spare == pooled, f"expected used_spare_schema={pooled}"
            if n == 0:  # the tenant works: every tenant migration on disk is applied
                schema = provisioned.tenant.schema_name
                (state,) = schema_states([(schema, TENANT)], expected=expected)
                assert state.state == CURRENT, state
    finally:
        for tenant in Tenant.objects.filter(subdomain__startswith=f"bench-{label}-{run_id}-"):
            tenant_destroy(tenant=tenant)
        drop_spares()
    return seconds


# The generated app and the child process ----------------------------------------------------


def write_extra_app(directory: Path, migrations: int) -> None:
    """A tenant app with one model-less chain of ``migrations`` no-op migrations."""
    package = directory / EXTRA_APP
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    for number in range(1, migrations + 1):
        depends = f'[("{EXTRA_APP}", "{number - 1:04d}_noop")]' if number > 1 else "[]"
        (package / "migrations" / f"{number:04d}_noop.py").write_text(
            "from django.db import migrations\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    dependencies = {depends}\n"
            '    operations = [migrations.RunSQL("SELECT 1", migrations.RunSQL.noop)]\n'
        )


def run_child(
    *, extra_migrations: int, pooled_runs: int, stock_runs: int, database: str
) -> dict[str, list[float]]:
    """Pooled and stock sign-up times in a fresh process with ``extra_migrations`` more
    tenant migrations on disk (0: the project as it is)."""
    with tempfile.TemporaryDirectory(prefix="tessera-bench-app-") as directory:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.benchmarks.settings.bench",
            "BENCH_DATABASE_NAME": database,
            "LOG_LEVEL": "WARNING",
        }
        if extra_migrations:
            write_extra_app(Path(directory), extra_migrations)
            env["BENCH_EXTRA_TENANT_APP"] = EXTRA_APP
            env["PYTHONPATH"] = os.pathsep.join([directory, str(ROOT)])
        out = Path(directory) / "result.json"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.provisioning",
                "--pooled-runs",
                str(pooled_runs),
                "--stock-runs",
                str(stock_runs),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"provisioning child failed:\n{completed.stderr[-3000:]}")
        return json.loads(out.read_text())


def child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pooled-runs", type=int, required=True)
    parser.add_argument("--stock-runs", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.settings.bench")
    import django

    django.setup()
    from config.celery import app
    from tenants.provisioning import _tenant_app_labels
    from tests.benchmarks.broker import private_broker

    extra = os.environ.get("BENCH_EXTRA_TENANT_APP")
    assert not extra or extra in _tenant_app_labels(), "extra app not among the tenant apps"
    with private_broker(app):
        result = {
            "pooled": signup_times(args.pooled_runs, pooled=True, label="pool"),
            "stock": signup_times(args.stock_runs, pooled=False, label="stock"),
        }
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
