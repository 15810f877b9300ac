"""No-op migrations over N tenants: ``migrate_tenants`` vs stock ``migrate_schemas``.

Both are run as an operator runs them, as separate ``manage.py`` processes (start-up
included) on the benchmark's database, with every tenant schema already current:

* Tessera: ``manage.py migrate_tenants`` (2 processes on 2 cores).
* Stock: ``manage.py migrate_schemas --tenant --executor=multiprocessing`` (django-tenants'
  parallel executor, ``TENANT_MULTIPROCESSING_MAX_PROCESSES`` = 2 by default).

Both runs must succeed and change nothing; the figure is the ratio of wall times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(database: str, *args: str) -> tuple[float, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.benchmarks.settings.bench",
        "BENCH_DATABASE_NAME": database,
        "LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return seconds, completed.stdout


def fast(database: str) -> float:
    seconds, out = _manage(database, "migrate_tenants", "--no-progress")
    assert " 0 behind" in out.splitlines()[0], out  # a no-op run: nothing was behind
    return seconds


def stock(database: str) -> float:
    seconds, _ = _manage(
        database, "migrate_schemas", "--tenant", "--executor=multiprocessing", "-v", "0"
    )
    return seconds


def noop_times(database: str, *, runs: int, stock_runs: int) -> dict[str, list[float]]:
    """Alternating runs, Tessera's first (so a cold cache, if any, costs Tessera)."""
    times: dict[str, list[float]] = {"fast": [], "stock": []}
    for n in range(max(runs, stock_runs)):
        if n < runs:
            times["fast"].append(fast(database))
        if n < stock_runs:
            times["stock"].append(stock(database))
    return times
