"""Fixtures of the ops tests: the deploy files, read the way their tools would."""

from __future__ import annotations

import ast
import os
import runpy
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
