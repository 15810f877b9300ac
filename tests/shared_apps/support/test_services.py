"""The support-access services directly (ADR 0024): the branches the page and API tests
do not reach — an unchanged or re-enabled policy, a rule broken between start and
redeem, a concurrent redeem, a session used by another account, ending twice."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.core.errors import (
    ErrorCode,
    InvalidToken,
    SupportAccessEnded,
    SupportDisabledByTenant,
    SupportPermissionRequired,
)
from shared_apps.support.models import SupportSession, SupportSessionStatus
from shared_apps.support.services import (
    EndReason,
    support_access_end,
    support_access_redeem,
    support_access_start,
    support_policy_set,
    support_session_check,
)
from tenant_apps.audit.models import AuditEntry
from tests.factories import PASSWORD
from tests.support import session_world

ADMIN_EMAIL = "support-services@platform.test"


@pytest.fixture
def platform_admin(db) -> User:
    return User.objects.create_superuser(email=ADMIN_EMAIL, password=PASSWORD)


def start(world, admin, role: str = "member"):
    connection.set_schema_to_public()
    return support_access_start(
        tenant=world.tenant,
        admin=admin,
        member_id=world.user(role).pk,
        allow_writes=False,
        reason="",
    )


def audit(world, action: str) -> list[AuditEntry]:
    with tenant_context(world.tenant):
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_a_checked_session_gives_the_context_with_its_label(alpha, platform_admin):
    row, token = start(alpha, platform_admin)
    assert support_access_redeem(tenant=alpha.tenant, token=token).status == "active"
    support, member = support_session_check(
        tenant=alpha.tenant, session_uuid=str(row.uuid), user_id=alpha.user("member").pk
    )
    assert member == alpha.user("member")
    assert (support.session_id, support.admin_id) == (row.pk, platform_admin.pk)
    assert support.actor_label == f"support {ADMIN_EMAIL} as member@alpha.test"
    assert support.mode == "read-only"
    # the same label as the audit log gives the entries of the session
    (started,) = audit(alpha, "support.started")
    assert started.actor_label == support.actor_label


def test_a_session_used_by_another_account_is_ended(alpha, platform_admin):
    row, token = start(alpha, platform_admin)
    support_access_redeem(tenant=alpha.tenant, token=token)
    with pytest.raises(SupportAccessEnded) as ended:
        support_session_check(
            tenant=alpha.tenant, session_uuid=str(row.uuid), user_id=alpha.user("owner").pk
        )
    assert ended.value.code == ErrorCode.SUPPORT_ACCESS_ENDED and ended.value.http_status == 401
    row.refresh_from_db()
    assert (row.status, row.end_reason) == (SupportSessionStatus.ENDED, EndReason.REVOKED)
    assert [e.changes["reason"] for e in audit(alpha, "support.ended")] == ["revoked"]
    with pytest.raises(SupportAccessEnded):  # and stays ended for the member too
        support_session_check(
            tenant=alpha.tenant, session_uuid=str(row.uuid), user_id=alpha.user("member").pk
        )


def test_setting_the_policy_to_what_it_is_changes_nothing(alpha):
    owner = alpha.user("owner")
    with tenant_context(alpha.tenant):
        assert support_policy_set(tenant=alpha.tenant, allowed=True, acting_user=owner) is False
    assert audit(alpha, "support.policy_changed") == []


def test_turning_it_back_on_is_audited_and_ends_nothing(alpha, platform_admin):
    owner = alpha.user("owner")
    with tenant_context(alpha.tenant):
        assert support_policy_set(tenant=alpha.tenant, allowed=False, acting_user=owner) is True
        assert support_policy_set(tenant=alpha.tenant, allowed=False, acting_user=owner) is False
    with pytest.raises(SupportDisabledByTenant):
        start(alpha, platform_admin)
    with tenant_context(alpha.tenant):
        assert support_policy_set(tenant=alpha.tenant, allowed=True, acting_user=owner) is True
    changed = audit(alpha, "support.policy_changed")
    assert [(e.actor_id, e.changes) for e in changed] == [
        (owner.pk, {"support_access_allowed": False}),
        (owner.pk, {"support_access_allowed": True}),
    ]
    _, token = start(alpha, platform_admin)  # allowed again
    assert support_access_redeem(tenant=alpha.tenant, token=token).status == "active"
    assert audit(alpha, "support.ended") == []


def test_an_admin_deactivated_before_the_redeem_is_refused_and_the_row_closed(
    alpha, platform_admin
):
    row, token = start(alpha, platform_admin)
    User.objects.filter(pk=platform_admin.pk).update(is_active=False)
    with pytest.raises(SupportPermissionRequired) as refused:
        support_access_redeem(tenant=alpha.tenant, token=token)
    assert refused.value.code == ErrorCode.SUPPORT_PERMISSION_REQUIRED
    assert refused.value.http_status == 403
    row.refresh_from_db()
    assert (row.status, row.end_reason) == (SupportSessionStatus.ENDED, EndReason.REVOKED)
    assert row.redeemed_at is None
    (ended,) = audit(alpha, "support.ended")
    assert ended.changes == {
        "admin": ADMIN_EMAIL,
        "member": "member@alpha.test",
        "reason": "revoked",
    }
    with pytest.raises(InvalidToken):  # the token is spent
        support_access_redeem(tenant=alpha.tenant, token=token)


def test_a_session_whose_time_is_up_before_the_redeem_expires(alpha, platform_admin, settings):
    settings.SUPPORT_ACCESS_MINUTES = 0  # over at once; the hand-off itself is still valid
    row, token = start(alpha, platform_admin)
    with pytest.raises(InvalidToken) as refused:
        support_access_redeem(tenant=alpha.tenant, token=token)
    assert refused.value.code == ErrorCode.INVALID_TOKEN and refused.value.http_status == 400
    row.refresh_from_db()
    assert (row.status, row.end_reason) == (SupportSessionStatus.EXPIRED, EndReason.EXPIRED)
    assert row.redeemed_at is None
    assert [e.changes["reason"] for e in audit(alpha, "support.ended")] == ["expired"]


def test_ending_a_closed_session_again_does_nothing(alpha, platform_admin):
    row, _ = start(alpha, platform_admin)
    assert support_access_end(session=row) is True
    assert support_access_end(session=row, reason=EndReason.LOGOUT) is False
    row.refresh_from_db()
    assert (row.status, row.end_reason) == (SupportSessionStatus.ENDED, EndReason.ENDED)
    assert [e.changes["reason"] for e in audit(alpha, "support.ended")] == ["ended"]


def _lock_waiters() -> int:
    watcher = connections.create_connection("default")
    try:
        with watcher.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]
    finally:
        watcher.close()


def test_a_redeem_overtaken_by_a_concurrent_one_is_an_invalid_token(committed_db):
    """Both read the pending row; the rival locks and activates it first. Ours waits on
    the row lock, then finds it no longer pending: InvalidToken, and one active row."""
    alpha = session_world("alpha")
    admin = User.objects.create_superuser(email=ADMIN_EMAIL, password=PASSWORD)
    row = None
    redeemed, go_on = threading.Event(), threading.Event()
    rival_result: list[object] = []
    try:
        row, token = start(alpha, admin)

        def rival() -> None:
            try:
                with transaction.atomic():
                    rival_result.append(support_access_redeem(tenant=alpha.tenant, token=token))
                    redeemed.set()
                    go_on.wait(timeout=10)
            finally:
                connection.close()

        def release_when_we_wait() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _lock_waiters() == 0:
                time.sleep(0.05)
            go_on.set()

        thread = threading.Thread(target=rival)
        thread.start()
        assert redeemed.wait(timeout=10), "the rival never redeemed"
        watcher = threading.Thread(target=release_when_we_wait)
        watcher.start()
        with pytest.raises(InvalidToken):
            support_access_redeem(tenant=alpha.tenant, token=token)
        watcher.join(timeout=15)
        thread.join(timeout=15)
        assert [getattr(s, "status", None) for s in rival_result] == ["active"]
        row.refresh_from_db()
        assert row.status == SupportSessionStatus.ACTIVE and row.redeemed_at is not None
    finally:
        go_on.set()
        connection.set_schema_to_public()
        if row is not None:
            with tenant_context(alpha.tenant):
                AuditEntry.objects.filter(object_type="support_session", object_id=row.pk).delete()
            SupportSession.objects.filter(pk=row.pk).delete()
        User.objects.filter(email=ADMIN_EMAIL).delete()
