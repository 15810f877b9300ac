from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from shared_apps.organizations.models import OrganizationInvitation
from shared_apps.organizations.roles import Role


@shared_task(name="shared_apps.organizations.tasks.send_invitation_email", acks_late=True)
def send_invitation_email(invitation_id: int, accept_link: str) -> bool:
    """Email an invitation (text and HTML). Skips invitations that were revoked or used
    meanwhile. ``accept_link`` is the invitation page on the tenant's host."""
    invitation = (
        OrganizationInvitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:
        return False
    inviter = invitation.invited_by
    context = {
        "inviter": (inviter.full_name or inviter.email) if inviter else "Someone",
        "organization": invitation.organization.name,
        "role": Role(invitation.role).label.lower(),
        "accept_link": accept_link,
        "expires_at": invitation.expires_at,
    }
    message = EmailMultiAlternatives(
        subject=f"You're invited to {invitation.organization.name} on Tessera",
        body=render_to_string("invitations/email/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.invitee_identifier],
    )
    message.attach_alternative(
        render_to_string("invitations/email/invitation.html", context), "text/html"
    )
    message.send()
    return True
