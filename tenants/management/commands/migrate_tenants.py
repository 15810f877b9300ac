"""Migrate only the tenant schemas that are behind, in parallel (see tenants/migrating.py).

    manage.py migrate_schemas --shared          # the public schema first, as always
    manage.py migrate_tenants                   # then every tenant and spare schema
    manage.py migrate_tenants --processes 4
    manage.py migrate_tenants --check           # report only; exit 1 if any is behind
    manage.py migrate_tenants --schemas t_acme,globex

Prints a progress bar, one line per schema it migrated, failed or dropped (``-v 2``: every
schema), and a summary; exits non-zero naming the tenants that failed. Running it again
migrates only what is still behind.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from tqdm import tqdm

from tenants.migrating import (
    CURRENT,
    DROPPED,
    FAILED,
    MIGRATED,
    MISSING,
    SPARE,
    TENANT,
    AlreadyRunning,
    Outcome,
    SchemaState,
    expected_migrations,
    migrate_schema,
    run_lock,
    schema_states,
    schemas_to_check,
    settle_spares,
)


class Command(BaseCommand):
    help = (
        "Migrate every tenant schema (and spare schema) that is behind the tenant migrations "
        "on disk, in parallel; schemas already current are not touched. Run "
        "`migrate_schemas --shared` first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--processes",
            type=int,
            default=max(2, os.cpu_count() or 1),
            help="schemas migrated at once, each in its own process (default: CPU count)",
        )
        parser.add_argument(
            "--schemas", help="comma-separated schema names or subdomains (default: all)"
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="only report; exit non-zero if any schema is behind",
        )
        parser.add_argument(
            "--no-spares", action="store_true", help="leave the spare-schema pool alone"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        try:
            with run_lock():
                self._handle(options)
        except AlreadyRunning as exc:
            raise CommandError(str(exc)) from exc

    def _handle(self, options) -> None:
        started = time.perf_counter()
        only = None
        if options["schemas"]:
            only = [name.strip() for name in options["schemas"].split(",") if name.strip()]
        pairs = schemas_to_check(only=only, spares=not options["no_spares"])
        if only is not None:
            self._refuse_unknown(only, [name for name, _ in pairs])
        states = schema_states(pairs, expected=expected_migrations())
        todo = [s for s in states if s.needs_migrating]
        self.stdout.write(
            f"{len(states)} schema(s) checked in {time.perf_counter() - started:.2f}s: "
            f"{sum(s.state == CURRENT for s in states)} current, {len(todo)} behind, "
            f"{sum(s.state == MISSING for s in states)} missing"
        )
        if options["check"]:
            self._report_check(states, verbosity=options["verbosity"])
            return

        outcomes = [self._without_migrating(s) for s in states if not s.needs_migrating]
        outcomes += self._migrate(todo, options["processes"], progress=not options["no_progress"])
        outcomes = settle_spares(outcomes)
        self._report(outcomes, verbosity=options["verbosity"])
        counts = {s: sum(o.status == s for o in outcomes) for s in (CURRENT, MIGRATED, FAILED)}
        dropped = sum(o.status == DROPPED for o in outcomes)
        self.stdout.write(
            f"{len(outcomes)} schema(s) in {time.perf_counter() - started:.1f}s: "
            f"{counts[CURRENT]} already current, {counts[MIGRATED]} migrated, "
            f"{counts[FAILED]} failed" + (f", {dropped} spare(s) dropped" if dropped else "")
        )
        failed = sorted(o.schema_name for o in outcomes if o.status == FAILED)
        if failed:
            raise CommandError(
                f"{len(failed)} tenant schema(s) failed: {', '.join(failed)}. "
                "Fix the cause and run migrate_tenants again: it resumes with what is behind."
            )

    @staticmethod
    def _refuse_unknown(requested: list[str], found_schemas: list[str]) -> None:
        from tenants.models import Tenant

        subdomains = set(
            Tenant.objects.filter(schema_name__in=found_schemas).values_list("subdomain", flat=True)
        )
        unknown = [n for n in requested if n not in found_schemas and n not in subdomains]
        if unknown:
            raise CommandError(f"unknown tenant(s): {', '.join(unknown)}")

    @staticmethod
    def _without_migrating(state: SchemaState) -> Outcome:
        if state.state == CURRENT:
            return Outcome(state.schema_name, state.kind, CURRENT)
        # MISSING: a tenant row without its schema is broken, and migrating cannot fix it;
        # a spare without its schema is simply dropped from the pool (settle_spares).
        return Outcome(state.schema_name, state.kind, FAILED, detail="schema does not exist")

    def _migrate(self, todo: list[SchemaState], processes: int, *, progress: bool) -> list[Outcome]:
        bar = tqdm(
            total=len(todo),
            unit="schema",
            desc="migrating",
            file=sys.stderr,
            disable=not progress or not todo,
            mininterval=0.2,
        )
        outcomes: list[Outcome] = []
        try:
            if processes <= 1 or len(todo) <= 1:
                for state in todo:
                    bar.set_postfix_str(state.schema_name, refresh=False)
                    outcomes.append(migrate_schema(state.schema_name, state.kind, state.unapplied))
                    bar.update()
                return outcomes
            # Children are forked: none may inherit an open connection of this process.
            connections.close_all()
            context = multiprocessing.get_context("fork")
            workers = min(processes, len(todo))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {
                    pool.submit(migrate_schema, s.schema_name, s.kind, s.unapplied): s for s in todo
                }
                for future in as_completed(futures):
                    state = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker process died (OOM, signal)
                        outcome = Outcome(state.schema_name, state.kind, FAILED, detail=repr(exc))
                    outcomes.append(outcome)
                    bar.update()
                    failures = sum(o.status == FAILED for o in outcomes)
                    if failures:
                        bar.set_postfix_str(f"{failures} failed", refresh=False)
        finally:
            bar.close()
        return outcomes

    def _line(self, schema_name: str, kind: str, status: str, width: int, tail: str = "") -> str:
        style = {
            CURRENT: self.style.SUCCESS,
            MIGRATED: self.style.SUCCESS,
            DROPPED: self.style.WARNING,
        }.get(status, self.style.ERROR)
        label = schema_name + (" (spare)" if kind == SPARE else "")
        return f"{label:<{width}}  {style(f'{status:<13}')}  {tail}".rstrip()

    def _report(self, outcomes: list[Outcome], *, verbosity: int) -> None:
        shown = [o for o in outcomes if verbosity >= 2 or o.status != CURRENT]
        shown.sort(key=lambda o: (o.kind != TENANT, o.schema_name))
        width = max([len(o.schema_name) + 8 for o in shown] + [10])
        for o in shown:
            tail = f"{o.seconds:6.2f}s  {o.detail}" if o.status != CURRENT else ""
            self.stdout.write(self._line(o.schema_name, o.kind, o.status, width, tail))

    def _report_check(self, states: list[SchemaState], *, verbosity: int) -> None:
        shown = [s for s in states if verbosity >= 2 or s.state != CURRENT]
        width = max([len(s.schema_name) + 8 for s in shown] + [10])
        for s in shown:
            tail = f"{s.unapplied} migration(s) to apply" if s.needs_migrating else ""
            self.stdout.write(self._line(s.schema_name, s.kind, s.state, width, tail))
        behind = [s.schema_name for s in states if s.state != CURRENT]
        if behind:
            raise CommandError(f"{len(behind)} schema(s) not current: {', '.join(behind[:50])}")
