"""Email verification at sign-up, with the grace period of SPEC §10."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from shared_apps.accounts.selectors import email_verification_state
from shared_apps.accounts.tasks import send_account_email, send_email_verification
from tenants.models import Tenant
from tests.factories import PASSWORD
from tests.shared_apps.accounts.conftest import new_member
from tests.support import session_client

VERIFY_LINK = re.compile(r"https?://([^/\s]+)(/accounts/confirm-email/[^\s\"<]+)")


def sign_up(public_client, subdomain: str, email: str):
    return public_client.post(
        "/api/v1/signup/",
        {
            "name": f"{subdomain.title()} Co",
            "subdomain": subdomain,
            "email": email,
            "password": PASSWORD,
            "plan": "starter",
        },
        format="json",
    )


def test_sign_up_records_an_unverified_address_and_mails_a_one_click_link(public_client, mailbox):
    subdomain = f"verify-{uuid.uuid4().hex[:6]}"
    email = f"{subdomain}@example.test"
    response = sign_up(public_client, subdomain, email)
    assert response.status_code == 201, response.content
    address = EmailAddress.objects.get(email=email)
    assert address.primary and not address.verified
    assert [m.to for m in mailbox] == [[email]]
    message = mailbox[0]
    assert f"{subdomain.title()} Co" in message.subject
    host, path = VERIFY_LINK.search(message.body).groups()
    assert host == f"{subdomain}.localhost"
    assert path in message.alternatives[0][0]
    tenant = Tenant.objects.get(subdomain=subdomain)
    # One click (GET) verifies, without signing in.
    from django.db import connection

    response = Client(HTTP_HOST=host).get(path)
    connection.set_schema_to_public()
    assert response.status_code == 302
    address.refresh_from_db()
    assert address.verified
    assert tenant.pk


def test_reusing_an_existing_account_at_sign_up_sends_no_new_verification(
    public_client, alpha, mailbox
):
    response = sign_up(public_client, f"again-{uuid.uuid4().hex[:6]}", "owner@alpha.test")
    assert response.status_code == 201
    assert mailbox == []


def test_the_task_skips_verified_or_missing_addresses(alpha, member):
    address = EmailAddress.objects.create(user=member, email=member.email, verified=True)
    assert send_email_verification(address.pk, alpha.tenant.pk) is False
    assert send_email_verification(999_999, alpha.tenant.pk) is False


def test_account_email_task_sends_text_and_html(mailbox):
    sent = send_account_email(
        {"subject": "S", "body": "text", "html": "<p>html</p>", "to": ["a@example.test"]}
    )
    assert sent is True
    assert mailbox[0].body == "text" and mailbox[0].alternatives[0][0] == "<p>html</p>"


def test_grace_period_then_overdue(alpha, member, settings):
    settings.EMAIL_VERIFICATION_GRACE_DAYS = 7
    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=False)
    state = email_verification_state(user=member)
    assert not state.verified and not state.overdue and state.remind
    assert state.deadline == member.date_joined + timedelta(days=7)

    client = session_client(alpha, member)
    page = client.get("/app/products/")
    assert page.status_code == 200, page.content[:300]  # within the grace period: no gate

    member.date_joined = timezone.now() - timedelta(days=8)
    member.save(update_fields=["date_joined"])
    assert email_verification_state(user=member).overdue
    gated = client.get("/app/products/")
    assert gated.status_code == 302 and gated["Location"] == "/accounts/email/"
    email_page = client.get("/accounts/email/")
    assert email_page.status_code == 200
    html = email_page.content.decode()
    assert "not verified" in html and "grace period is over" in html


def test_members_without_an_address_row_count_as_verified(member):
    assert email_verification_state(user=member).verified


def test_resend_from_the_email_page(alpha, member, mailbox):
    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=False)
    client = session_client(alpha, member)
    response = client.post("/accounts/email/", {"email": member.email, "action_send": ""})
    assert response.status_code == 302
    assert [m.to for m in mailbox] == [[member.email]]
    host, _ = VERIFY_LINK.search(mailbox[0].body).groups()
    assert host == alpha.host
    assert "Alpha Ltd" in mailbox[0].subject


def test_reminder_partial_renders_from_the_context_processor(alpha, member, rf):
    from shared_apps.accounts.context_processors import account_state

    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=False)
    request = rf.get("/", HTTP_HOST=alpha.host)
    request.user = member
    html = render_to_string("account/_verify_reminder.html", account_state(request), request)
    assert 'id="verify-reminder"' in html and member.email in html
    verified = new_member(alpha)
    request.user = verified
    html = render_to_string("account/_verify_reminder.html", account_state(request), request)
    assert "verify-reminder" not in html
