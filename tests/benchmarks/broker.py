"""Keep the benchmark's Celery messages to itself.

Sign-up queues ``replenish_spare_schemas`` after commit. In the benchmark nothing should
consume those messages, and nothing else (a ``make run`` worker on the same embedded
Redis) should see them: the app is pointed at a private key prefix for the duration,
and every key under it is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any


def _use_prefix(app: Any, transport: dict, prefix: str) -> None:
    app.conf.broker_transport_options = {**transport, "global_keyprefix": prefix}
    app.conf.result_backend_transport_options = {"global_keyprefix": prefix}
    if app._pool is not None:  # connections made with the old options
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


def _delete_keys(prefix: str) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@contextlib.contextmanager
def private_broker(app: Any) -> Iterator[str]:
    saved = dict(app.conf.broker_transport_options or {})
    saved_results = dict(app.conf.result_backend_transport_options or {})
    prefix = f"tessera-bench:{uuid.uuid4().hex[:8]}:"
    _use_prefix(app, saved, prefix)
    try:
        yield prefix
    finally:
        _use_prefix(app, saved, saved.get("global_keyprefix", ""))
        app.conf.broker_transport_options = saved
        app.conf.result_backend_transport_options = saved_results
        _delete_keys(prefix)
