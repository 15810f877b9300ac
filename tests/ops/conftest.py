"""Fixtures of the ops tests: the deploy files, read the way their tools would."""

from __future__ import annotations

import ast
import json
import os
import runpy
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def production_required_settings() -> set[str]:
    """Variables config/settings/production.py reads with no default (it refuses to start
    without them)."""
    tree = ast.parse((ROOT / "config" / "settings" / "production.py").read_text())
    required = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        is_env = (isinstance(function, ast.Name) and function.id == "env") or (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id == "env"
        )
        if is_env and len(node.args) == 1 and not any(k.arg == "default" for k in node.keywords):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                required.add(argument.value)
    assert required, "production.py reads no required variable?"
    return required


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def load_gunicorn_config(environ: dict[str, str] | None = None) -> SimpleNamespace:
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("GUNICORN_") or name in ("PORT", "LOG_LEVEL", "FORWARDED_ALLOW_IPS"):
            del os.environ[name]
    os.environ.update(environ or {})
    try:
        values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return SimpleNamespace(**{k: v for k, v in values.items() if not k.startswith("_")})


@pytest.fixture(scope="session")
def gunicorn() -> SimpleNamespace:
    return load_gunicorn_config()


# checkov ------------------------------------------------------------------------------------
# One run per session, started in the background as soon as collection shows a test needs
# it, so its few seconds overlap with the rest of the suite (the machine has two cores).

CHECKOV_KEY = pytest.StashKey[subprocess.Popen | None]()


def _checkov_command() -> list[str] | None:
    local = ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"
    executable = str(local) if local.exists() else shutil.which("checkov")
    if executable is None:
        return None
    return [
        executable,
        "--directory",
        str(ROOT / "terraform"),
        "--framework",
        "terraform",
        "--compact",
        "--skip-download",
        "--output",
        "json",
    ]


def pytest_collection_modifyitems(session, config, items) -> None:
    process = None
    if any("checkov_report" in getattr(item, "fixturenames", ()) for item in items):
        command = _checkov_command()
        if command is not None:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
            )
    config.stash[CHECKOV_KEY] = process


def pytest_unconfigure(config) -> None:
    process = config.stash.get(CHECKOV_KEY, None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def checkov_report(pytestconfig) -> dict:
    """checkov's JSON report on terraform/ (terraform framework only)."""
    process = pytestconfig.stash.get(CHECKOV_KEY, None)
    if process is None:
        pytest.skip("checkov is not installed: `make install` puts it in .venv/tools/checkov")
    stdout, stderr = process.communicate(timeout=300)
    assert stdout.strip(), stderr[-2000:]
    report = json.loads(stdout)
    return report[0] if isinstance(report, list) else report
