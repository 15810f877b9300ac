"""Work that runs once the response has reached the client (ADR 0030).

``after_response(fn)`` called while a request is being served queues ``fn`` until the
WSGI server closes the response: Django sends ``request_finished`` from the response's
``close()``, and gunicorn calls that only after it has written the last byte (the
response carries its ``Content-Length``, so the client has all of it by then). Called
anywhere else -- a Celery task, a management command, a shell -- ``fn`` runs at once.

What a caller queues here must be safe to lose: a worker killed between the response and
its ``close()`` never runs it. The one user is the webhook outbox, whose sweeper
dispatches any committed event that was not (ADR 0021). A failing ``fn`` is logged and
the next one still runs; nothing is raised into the server.

State is per thread: a gthread worker serves one request per thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_local = threading.local()


def after_response(fn: Callable[[], object]) -> None:
    """Run ``fn`` after the current request's response has been sent, or now."""
    queue: list[Callable[[], object]] | None = getattr(_local, "queue", None)
    if queue is None:
        _run([fn])
    else:
        queue.append(fn)


def _run(queue: list[Callable[[], object]]) -> None:
    for fn in queue:
        try:
            fn()
        except Exception:  # never into the server: the caller can recover
            logger.exception("after-response work failed")


def request_started(**_: object) -> None:
    leftover = getattr(_local, "queue", None)
    _local.queue = []
    if leftover:  # a previous response on this thread was never closed
        _run(leftover)


def request_finished(**_: object) -> None:
    queue = getattr(_local, "queue", None)
    _local.queue = None
    if queue:
        _run(queue)


def connect_signals() -> None:
    from django.core.signals import request_finished as finished
    from django.core.signals import request_started as started

    started.connect(request_started, dispatch_uid="tessera-after-response")
    finished.connect(request_finished, dispatch_uid="tessera-after-response")
