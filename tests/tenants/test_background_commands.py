"""``manage.py run_for_tenants``: a command or a task over chosen or all tenants."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from tenants.services import tenant_suspend
from tests import celery_support
from tests.background_tasks import observe  # noqa: F401 - registers the test tasks

# Fixtures (see tests/celery_support.py).
celery_prefix = celery_support.celery_prefix


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("run_for_tenants", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_runs_a_task_in_every_tenant_with_a_summary(alpha, beta):
    out = run("--task", "tests.observe")
    lines = out.splitlines()
    assert lines[0].startswith("t_alpha") and "ok" in lines[0]
    assert "'schema': 't_alpha'" in lines[0] and "'schema': 't_beta'" in lines[1]
    assert lines[-1].endswith("2 ok, 0 skipped, 0 failed")


def test_runs_a_management_command_in_chosen_tenants_by_schema_or_subdomain(alpha, beta):
    out = run("--schemas", "t_alpha,beta", "clearsessions")
    assert out.splitlines()[-1].endswith("2 ok, 0 skipped, 0 failed")


def test_read_only_tenants_are_skipped_by_writing_tasks(alpha, beta):
    tenant_suspend(tenant=beta.tenant, acting_user=None)
    out = run(
        "--task", "tenants.tasks.clear_expired_sessions", "--kwargs", json.dumps({"period": "x"})
    )
    assert "refused: tenant is suspended" in out
    assert out.splitlines()[-1].endswith("1 ok, 1 skipped, 0 failed")


def test_a_failing_tenant_is_reported_and_fails_the_command(alpha, beta, capsys, celery_prefix):
    kwargs = json.dumps({"period": "x", "fail_times": {"t_beta": 9}})
    with pytest.raises(CommandError, match=r"1 tenant\(s\) failed: t_beta"):
        call_command("run_for_tenants", "--task", "tests.flaky", "--kwargs", kwargs)
    captured = capsys.readouterr()
    assert "RuntimeError('boom in t_beta (try 1)')" in captured.out
    assert "100%" in captured.err  # the progress bar


def test_a_failing_command_is_reported(alpha):
    with pytest.raises(CommandError, match="t_alpha"):
        run("--schemas", "t_alpha", "no_such_command")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "either a management command or --task"),
        (("--task", "tests.observe", "clearsessions"), "either a management command or --task"),
        (("--task", "no.such.task"), "unknown task"),
        (("--task", "tests.observe", "--kwargs", "{nope"), "not JSON"),
        (("--task", "tests.observe", "--kwargs", "[1]"), "must be a JSON object"),
        (("--schemas", "t_alpha,t_nope", "clearsessions"), "unknown tenant"),
    ],
)
def test_bad_invocations_are_refused(alpha, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
