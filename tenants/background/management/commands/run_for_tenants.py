"""Run a management command or a registered Celery task in every tenant's schema.

    manage.py run_for_tenants clearsessions
    manage.py run_for_tenants --schemas t_acme,t_globex --parallel 4 some_command --flag
    manage.py run_for_tenants --task tenants.tasks.clear_expired_sessions \\
        --kwargs '{"period": "manual"}'

Tasks run in this process through the same tenant-aware base class as on a worker
(read-only tenants are skipped for writing tasks); commands run with the connection on
the tenant. The connection is recycled every ``--recycle-every`` schemas (default
``TENANT_SCHEMAS_PER_CONNECTION``). Prints a progress bar, a per-tenant summary, and
exits non-zero if any tenant failed.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.models import Q
from tqdm import tqdm

from tenants.models import Tenant

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass(frozen=True)
class Job:
    command: str | None
    command_args: tuple[str, ...]
    task: str | None
    task_kwargs: dict[str, Any]
    recycle_every: int | None


def run_one(job: Job, schema_name: str) -> dict[str, Any]:
    """Run ``job`` for one tenant; never raises. Module-level so a pool can pickle it."""
    from celery import current_app

    from tenants.background.headers import for_tenant
    from tenants.background.tasking import activate, recycler
    from tenants.migrating import last_line
    from tenants.postgresql_backend.base import tenant_connection

    if job.recycle_every is not None:
        recycler.every = job.recycle_every
    started = time.perf_counter()
    status, detail = OK, ""
    try:
        tenant = activate(schema_name)
        if tenant is None:
            status, detail = SKIPPED, "tenant no longer exists"
        elif job.task is not None:
            tenant_connection().set_schema_to_public()
            result = current_app.tasks[job.task].apply(
                kwargs=job.task_kwargs, headers=for_tenant(tenant)
            )
            if result.state == "SUCCESS":
                detail = repr(result.result)[:120]
            elif result.state == "IGNORED":
                status, detail = SKIPPED, f"refused: tenant is {tenant.status}"
            else:
                status, detail = FAILED, f"{result.state}: {result.result!r}"[:500]
        else:
            assert job.command is not None
            out = io.StringIO()
            call_command(job.command, *job.command_args, stdout=out, stderr=out)
            detail = last_line(out.getvalue())[:120]
    except Exception as exc:
        status, detail = FAILED, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        tenant_connection().set_schema_to_public()
        recycler.visited(schema_name)
        recycler.maybe_recycle()
    seconds = time.perf_counter() - started
    return {"schema": schema_name, "status": status, "seconds": seconds, "detail": detail}


class Command(BaseCommand):
    help = (
        "Run a management command (or --task, a registered Celery task) in every tenant's "
        "schema, or in --schemas; prints a summary and fails if any tenant failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("command", nargs="?", help="management command to run per tenant")
        parser.add_argument("command_args", nargs=argparse.REMAINDER, help="its arguments")
        parser.add_argument("--task", help="name of a registered Celery task to run instead")
        parser.add_argument("--kwargs", default="{}", help="JSON keyword arguments of --task")
        parser.add_argument(
            "--schemas", help="comma-separated schema names or subdomains (default: all)"
        )
        parser.add_argument(
            "--parallel", type=int, default=1, help="processes to run tenants in (default 1)"
        )
        parser.add_argument(
            "--recycle-every",
            type=int,
            default=None,
            help="open a fresh DB connection every N schemas (default "
            "TENANT_SCHEMAS_PER_CONNECTION)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        job = self._job(options)
        schemas = self._schemas(options["schemas"])
        started = time.perf_counter()
        results = self._run(job, schemas, parallel=max(1, options["parallel"]), options=options)
        self._summary(results, time.perf_counter() - started)
        failed = [r["schema"] for r in results if r["status"] == FAILED]
        if failed:
            raise CommandError(f"{len(failed)} tenant(s) failed: {', '.join(failed)}")

    def _job(self, options) -> Job:
        from celery import current_app

        command, task = options["command"], options["task"]
        if bool(command) == bool(task):
            raise CommandError("give either a management command or --task, not both")
        if task is not None and task not in current_app.tasks:
            raise CommandError(f"unknown task {task!r}")
        try:
            task_kwargs = json.loads(options["kwargs"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--kwargs is not JSON: {exc}") from exc
        if not isinstance(task_kwargs, dict):
            raise CommandError("--kwargs must be a JSON object")
        return Job(
            command=command,
            command_args=tuple(options["command_args"] or ()),
            task=task,
            task_kwargs=task_kwargs,
            recycle_every=options["recycle_every"],
        )

    def _schemas(self, requested: str | None) -> list[str]:
        tenants = Tenant.objects.order_by("schema_name")
        if not requested:
            return list(tenants.values_list("schema_name", flat=True))
        names = [name.strip() for name in requested.split(",") if name.strip()]
        found = dict(
            tenants.filter(Q(schema_name__in=names) | Q(subdomain__in=names)).values_list(
                "schema_name", "subdomain"
            )
        )
        known = set(found) | set(found.values())
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CommandError(f"unknown tenant(s): {', '.join(unknown)}")
        return sorted(found)

    def _run(
        self, job: Job, schemas: list[str], *, parallel: int, options: dict
    ) -> list[dict[str, Any]]:
        bar = tqdm(
            total=len(schemas),
            unit="tenant",
            file=sys.stderr,
            disable=options["no_progress"],
            mininterval=0.2,
        )
        results: list[dict[str, Any]] = []
        try:
            if parallel == 1 or len(schemas) <= 1:
                for schema_name in schemas:
                    bar.set_postfix_str(schema_name, refresh=False)
                    results.append(run_one(job, schema_name))
                    bar.update()
            else:
                # Children are forked: none may inherit this process's open connection.
                connections.close_all()
                context = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
                    futures = [pool.submit(run_one, job, schema) for schema in schemas]
                    for future in as_completed(futures):
                        results.append(future.result())
                        bar.update()
        finally:
            bar.close()
        return sorted(results, key=lambda r: r["schema"])

    def _summary(self, results: list[dict[str, Any]], seconds: float) -> None:
        width = max([len(r["schema"]) for r in results] + [6])
        for r in results:
            style = {OK: self.style.SUCCESS, SKIPPED: self.style.WARNING}.get(
                r["status"], self.style.ERROR
            )
            status = style(f"{r['status']:<7}")
            self.stdout.write(
                f"{r['schema']:<{width}}  {status}  {r['seconds']:7.2f}s  {r['detail']}"
            )
        counts = {s: sum(1 for r in results if r["status"] == s) for s in (OK, SKIPPED, FAILED)}
        self.stdout.write(
            f"{len(results)} tenant(s) in {seconds:.1f}s: {counts[OK]} ok, "
            f"{counts[SKIPPED]} skipped, {counts[FAILED]} failed"
        )
