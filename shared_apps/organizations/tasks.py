from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from shared_apps.organizations.models import OrganizationInvitation


@shared_task(name="shared_apps.organizations.tasks.send_invitation_email", acks_late=True)
def send_invitation_email(invitation_id: int, accept_link: str) -> bool:
    """Email an invitation. Skips invitations that were revoked or used meanwhile."""
    invitation = (
        OrganizationInvitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:
        return False
    inviter = invitation.invited_by.email if invitation.invited_by else "Someone"
    organization = invitation.organization.name
    send_mail(
        subject=f"You're invited to {invitation.organization.name} on Tessera",
        message=(
            f"{inviter} invited you to join {organization} as {invitation.role}.\n\n"
            f"Accept the invitation (valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC) by "
            f"sending this link's token to POST /api/v1/invitations/accept/:\n\n{accept_link}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.invitee_identifier],
    )
    return True
