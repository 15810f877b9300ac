"""Tenant reads from a streaming replica (``DATABASE_REPLICA_URL``, SPEC §12, ADR 0015).

When a replica is configured (the ``replica`` database alias, same backend as the
primary), the routing middleware serves a request's reads from it only when all of
these hold, and from the primary otherwise:

* a safe method (GET, HEAD, OPTIONS) on a tenant host that the resolver already knows
  (never the public host, so never the platform admin or sign-up);
* the client has not written to this tenant in the last ``REPLICA_STICKY_SECONDS``
  (read-your-writes: a marker in Redis, keyed on the tenant and the client's credential,
  set after every unsafe request; Redis down counts as "wrote recently");
* the replica answered the last check, at most ``REPLICA_CHECK_SECONDS`` ago, with a lag
  within ``REPLICA_MAX_LAG_SECONDS``.

Everything else -- writes, the admin, Celery tasks, management commands, shells -- never
sets the request's read alias, so ``ReplicaRouter`` sends it to the primary: opting in is
the middleware's alone. Inside a replica request, the first write (or an ``atomic`` block
opened on the primary) pins the rest of the request's reads to the primary.

With no replica configured, the router always answers ``default``: one database, as
before.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from tenants.models import Tenant
    from tenants.postgresql_backend.base import DatabaseWrapper

logger = logging.getLogger(__name__)

REPLICA_ALIAS = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STICKY_PREFIX = "replica-sticky"

# The alias this request's reads go to (None: the primary). Set only by the middleware.
_reads_on: contextvars.ContextVar[RequestReads | None] = contextvars.ContextVar(
    "tessera_replica_reads", default=None
)


@dataclass
class RequestReads:
    alias: str
    wrote: bool = False  # a write happened: the rest of the request reads the primary


def configured() -> bool:
    return REPLICA_ALIAS in settings.DATABASES


def replica_connection() -> DatabaseWrapper:
    return cast("DatabaseWrapper", connections[REPLICA_ALIAS])


@contextlib.contextmanager
def reads_from(alias: str) -> Iterator[RequestReads]:
    """The block's ORM reads go to ``alias`` (until its first write)."""
    state = RequestReads(alias=alias)
    token = _reads_on.set(state)
    try:
        yield state
    finally:
        _reads_on.reset(token)


class ReplicaRouter:
    """Reads to the replica only inside a replica request (``reads_from``), and never
    after the request wrote or while a transaction is open on the primary; every write,
    and everything outside such a request, to the primary. The replica is never migrated."""

    def db_for_read(self, model, **hints: Any) -> str:
        state = _reads_on.get()
        if state is None or state.wrote:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            # The view asked for a transaction on the primary: its reads belong in it.
            return DEFAULT_DB_ALIAS
        return state.alias

    def db_for_write(self, model, **hints: Any) -> str:
        # Explicit: an instance read from the replica must still be saved to the primary.
        state = _reads_on.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints: Any) -> bool | None:
        both = {obj1._state.db, obj2._state.db}
        return True if both <= {DEFAULT_DB_ALIAS, REPLICA_ALIAS} else None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints: Any) -> bool | None:
        return False if db == REPLICA_ALIAS else None


# Read-your-writes ---------------------------------------------------------------------------


def _credentials(request: HttpRequest, response: HttpResponse | None = None) -> list[str]:
    """What identifies the client to this host: its Authorization header (JWT, API key),
    its session cookie, and a session cookie the response hands it (a login); the client
    address when it has none of these."""
    found = []
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        found.append("authorization:" + authorization)
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session:
        found.append("session:" + session)
    if response is not None:
        issued = response.cookies.get(settings.SESSION_COOKIE_NAME)
        if issued is not None and issued.value:
            found.append("session:" + issued.value)
    if not found:
        found.append("address:" + request.META.get("REMOTE_ADDR", ""))
    return found


def _sticky_key(tenant: Tenant, credential: str) -> str:
    digest = hashlib.sha256(credential.encode()).hexdigest()[:32]
    return f"{_STICKY_PREFIX}:{tenant.schema_name}:{digest}"


def mark_wrote(request: HttpRequest, response: HttpResponse, tenant: Tenant) -> None:
    """After an unsafe request: this client reads the primary for REPLICA_STICKY_SECONDS."""
    cache = caches["shared"]
    timeout = settings.REPLICA_STICKY_SECONDS
    try:
        cache.set_many(
            {_sticky_key(tenant, c): 1 for c in _credentials(request, response)}, timeout
        )
    except Exception as exc:  # Redis down: reads of everyone go to the primary anyway
        logger.warning("could not mark a write for read-your-writes: %s", exc)


def wrote_recently(request: HttpRequest, tenant: Tenant) -> bool:
    cache = caches["shared"]
    keys = [_sticky_key(tenant, c) for c in _credentials(request)]
    try:
        return bool(cache.get_many(keys))
    except Exception as exc:  # cannot tell: the primary is always right
        logger.warning("could not read the read-your-writes marker: %s", exc)
        return True


# Health and lag -------------------------------------------------------------------------------

_PRIMARY_LSN_SQL = "SELECT pg_current_wal_flush_lsn()::text"
# Lag 0 when the replica has replayed everything the primary had flushed a moment before;
# otherwise the age of the newest transaction it has replayed (an upper bound of how stale
# it is). NULL (never replayed anything yet, or not a standby) is unknown: skipped.
_REPLICA_LAG_SQL = (
    "SELECT pg_is_in_recovery(),"
    " CASE WHEN pg_last_wal_replay_lsn() >= %s::pg_lsn THEN 0"
    " ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END"
)


@dataclass
class ReplicaState:
    usable: bool = False
    lag: float | None = None
    checked_at: float = float("-inf")
    reason: str = "not checked yet"


class ReplicaHealth:
    """The replica's state, checked at most every ``REPLICA_CHECK_SECONDS`` per process
    (one thread checks; the others use the last answer meanwhile). A replica that fails a
    check, or fails during a request, is skipped until the next check: recovery needs no
    restart."""

    def __init__(self) -> None:
        self._state = ReplicaState()
        self._lock = threading.Lock()

    @property
    def state(self) -> ReplicaState:
        return self._state

    def reset(self) -> None:
        self._state = ReplicaState()

    def mark_down(self, reason: str) -> None:
        logger.warning("read replica skipped: %s", reason)
        self._state = ReplicaState(usable=False, checked_at=time.monotonic(), reason=reason)

    def usable(self) -> bool:
        state = self._state
        if time.monotonic() - state.checked_at < settings.REPLICA_CHECK_SECONDS:
            return state.usable
        if not self._lock.acquire(blocking=False):
            return state.usable  # another thread of this process is checking
        try:
            self._state = self._check()
        finally:
            self._lock.release()
        if not self._state.usable:
            logger.warning("read replica skipped: %s", self._state.reason)
        return self._state.usable

    def _check(self) -> ReplicaState:
        from tenants.postgresql_backend.base import tenant_connection

        now = time.monotonic()
        try:
            primary_lsn = tenant_connection().run_unrouted(_PRIMARY_LSN_SQL)[0]
        except Exception as exc:  # the primary's own trouble shows in the request itself
            return ReplicaState(usable=False, checked_at=now, reason=f"primary: {exc}")
        replica = replica_connection()
        try:
            in_recovery, lag = replica.run_unrouted(_REPLICA_LAG_SQL, [primary_lsn])
        except Exception as exc:
            with contextlib.suppress(Exception):
                replica.close()
            return ReplicaState(usable=False, checked_at=now, reason=f"unreachable: {exc}")
        if not in_recovery:
            return ReplicaState(usable=False, checked_at=now, reason="not a standby")
        if lag is None:
            return ReplicaState(usable=False, checked_at=now, reason="lag unknown")
        lag = float(lag)
        if lag > settings.REPLICA_MAX_LAG_SECONDS:
            return ReplicaState(
                usable=False,
                lag=lag,
                checked_at=now,
                reason=f"lag {lag:.1f} s > REPLICA_MAX_LAG_SECONDS",
            )
        return ReplicaState(usable=True, lag=lag, checked_at=now, reason="")


health = ReplicaHealth()


def check_read_your_writes(app_configs=None, **kwargs) -> list:
    """A write must be on the replica by the time its writer reads there again: the
    sticky window has to cover the lag bound plus the age of the last lag check."""
    from django.core.checks import Error

    needed = settings.REPLICA_MAX_LAG_SECONDS + settings.REPLICA_CHECK_SECONDS
    if configured() and needed > settings.REPLICA_STICKY_SECONDS:
        return [
            Error(
                f"REPLICA_STICKY_SECONDS ({settings.REPLICA_STICKY_SECONDS}) must be at least "
                f"REPLICA_MAX_LAG_SECONDS + {settings.REPLICA_CHECK_SECONDS} ({needed}): "
                "a client could read from the replica before its own write reached it.",
                id="tenants.E001",
            )
        ]
    return []
