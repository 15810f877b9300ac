"""Stripe webhook endpoint (public host): verify, store, acknowledge; work happens later."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.services import webhook_event_receive
from shared_apps.core.errors import TesseraError, error_body

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """2xx once the event is stored (processing is a Celery task on the billing queue).

    Bad or stale signatures get 400 and nothing is stored; a duplicate is acknowledged
    without being processed twice; unknown event types are acknowledged and ignored.
    """
    from billing.tasks import process_webhook_event

    try:
        event, needs_processing = webhook_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except TesseraError as exc:
        return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
    if needs_processing:
        event_id = event.pk

        def enqueue() -> None:
            try:
                process_webhook_event.delay(event_id)
            except Exception:  # broker down: the event is stored; the sweeper re-sends it
                logger.warning("could not queue stripe event %s", event_id, exc_info=True)

        transaction.on_commit(enqueue)
    return JsonResponse({"received": True, "duplicate": not needs_processing})
