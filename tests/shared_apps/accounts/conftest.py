"""Fixtures for the account tests: mail delivered in-process, TOTP codes, MFA users."""

from __future__ import annotations

import time
import uuid

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail

from shared_apps.accounts import tasks
from tests.factories import MembershipFactory, UserFactory


class _CommitNow:
    """Stands in for ``django.db.transaction`` in the account modules: the test's
    transaction never commits, so what would run at commit runs at once."""

    @staticmethod
    def on_commit(func, using=None, robust=False):
        func()


@pytest.fixture
def mailbox(monkeypatch):
    """The account emails, delivered as the request commits: the Celery tasks' own code
    runs in this process (no broker) and lands in Django's locmem outbox."""
    from shared_apps.accounts import adapter, services

    for task in (tasks.send_account_email, tasks.send_email_verification):
        monkeypatch.setattr(task, "delay", task.run)
    for module in (adapter, services):
        monkeypatch.setattr(module, "transaction", _CommitNow)
    mail.outbox = []
    return mail.outbox


def totp_now(secret: str, *, offset: int = 0) -> str:
    """The code of the current 30 s step. allauth accepts only the current step
    (MFA_TOTP_TOLERANCE 0): a code taken in the last 2 s of a step could be checked in
    the next one, so this waits for the next step then."""
    left = 30 - time.time() % 30
    if left < 2:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def new_member(world, role: str = "member"):
    """A member of its own (the lockout counts and used-code marks of the session users
    are shared with other test runs on this Redis)."""
    user = UserFactory(email=f"acc-{uuid.uuid4().hex[:10]}@example.test")
    MembershipFactory(organization=world.tenant.organization, user=user, role=role)
    return user


@pytest.fixture
def member(alpha):
    return new_member(alpha)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Leave each phase's report on the test item (the browser fixture screenshots a
    failed test)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
