"""Stripe webhook endpoint (public host): verify, store, acknowledge; work happens later."""

from __future__ import annotations

import logging

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.services import webhook_event_receive
from tenants.permissions import PublicEndpoint

logger = logging.getLogger(__name__)


class StripeWebhookApi(APIView):
    """2xx once the event is stored (processing is a Celery task on the billing queue).

    Bad or stale signatures get 400 and nothing is stored (the domain error goes through
    the one exception handler); a duplicate is acknowledged without being processed
    twice; unknown event types are acknowledged and ignored. The signature covers the
    raw body, so the body is read as bytes, never parsed here.
    """

    authentication_classes: list = []
    permission_classes = [PublicEndpoint]  # Stripe proves itself with the signature
    throttle_classes: list = []  # Stripe retries on its own schedule; never refuse it
    http_method_names = ["post"]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        from billing.tasks import process_webhook_event

        event, needs_processing = webhook_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        if needs_processing:
            event_id = event.pk

            def enqueue() -> None:
                try:
                    process_webhook_event.delay(event_id)
                except Exception:  # broker down: the event is stored; the sweeper re-sends it
                    logger.warning("could not queue stripe event %s", event_id, exc_info=True)

            transaction.on_commit(enqueue)
        return Response({"received": True, "duplicate": not needs_processing})
