"""Account emails, sent by Celery after the request's transaction commits."""

from __future__ import annotations

from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from tenants.background.tasking import public_task


def _send(*, subject: str, body: str, html: str, to: list[str], from_email: str) -> None:
    message = EmailMultiAlternatives(subject, body, from_email, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@public_task()
def send_account_email(payload: dict) -> bool:
    """Send a message allauth asked for (reset link, password and MFA notices), rendered
    in the request with the organisation's name."""
    _send(
        subject=payload["subject"],
        body=payload["body"],
        html=payload.get("html", ""),
        to=list(payload["to"]),
        from_email=payload.get("from_email") or settings.DEFAULT_FROM_EMAIL,
    )
    return True


@public_task()
def send_email_verification(email_address_id: int, tenant_id: int, base_url: str = "") -> bool:
    """Mail the sign-up verification link for the tenant's host. The key is made here
    (allauth's stateless HMAC of the address id), so no secret travels in the message."""
    from tenants.models import Tenant
    from tenants.selectors import tenant_primary_host, tenant_url

    address = EmailAddress.objects.filter(pk=email_address_id, verified=False).first()
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if address is None or tenant is None:
        return False
    key = EmailConfirmationHMAC(address).key
    base = base_url or tenant_url(host=tenant_primary_host(tenant=tenant) or "", request=None)
    path = reverse("account_confirm_email", urlconf="config.urls_tenant", args=[key])
    context = {
        "organization_name": tenant.name,
        "activate_url": base.rstrip("/") + path,
        "email": address.email,
        "grace_days": settings.EMAIL_VERIFICATION_GRACE_DAYS,
    }
    prefix = "account/email/email_confirmation_signup"
    _send(
        subject=" ".join(render_to_string(f"{prefix}_subject.txt", context).split()),
        body=render_to_string(f"{prefix}_message.txt", context),
        html=render_to_string(f"{prefix}_message.html", context),
        to=[address.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    return True
