"""Emails about the tenant's integrations."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from shared_apps.organizations.selectors import owner_emails
from tenant_apps.integrations.models import WebhookEndpoint
from tenants.context import current_tenant

logger = logging.getLogger(__name__)


def email_owners_endpoint_disabled(endpoint_id: int) -> int:
    """Tell the tenant's owners that an endpoint was disabled (runs in the worker that
    disabled it, after commit). Returns the number of emails sent."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return 0
    tenant = current_tenant()
    owners = owner_emails(tenant=tenant)
    if not owners:
        return 0
    try:
        return send_mail(
            subject=f"A webhook endpoint of {tenant.name} was disabled",
            message=(
                f"Tessera stopped sending webhooks to {endpoint.url} (endpoint {endpoint.pk}) "
                f"of {tenant.name}: {endpoint.disabled_reason}\n\n"
                "Fix the receiver, then enable the endpoint again (PATCH "
                f'/api/v1/webhooks/endpoints/{endpoint.pk}/ with {{"enabled": true}}) and '
                "redeliver what it missed from its delivery log.\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=owners,
        )
    except OSError:  # the mail server is down: the endpoint stays disabled regardless
        logger.exception("could not email the owners about disabled endpoint %s", endpoint_id)
        return 0
