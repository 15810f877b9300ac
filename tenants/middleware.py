"""The one place a request's tenant is decided."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.urls import set_urlconf

from shared_apps.core.errors import ErrorCode, Message, error_body
from tenants import replicas
from tenants.postgresql_backend.base import tenant_connection
from tenants.resolution import normalise_host, resolver

logger = logging.getLogger(__name__)

_UNIT_ATTR = "_tessera_unit_of_work"
_DB_ERROR_ATTR = "_tessera_database_error"
DATABASE_RETRY_AFTER_SECONDS = 1


class TenantRoutingMiddleware:
    """Resolve the Host header to a tenant (or the public site) and route the request.

    Sets ``request.tenant`` (None on the public host), ``request.is_public_host`` and
    the URLconf. An unknown or malformed host gets a 404 here, before any view runs:
    JSON under ``/api/``, plain HTML elsewhere; never the public site, never a 500.

    The rest of the request -- every later middleware, the view, the admin -- runs as
    one database transaction whose first statement is the routing statement (ADR 0014),
    so the tenant's search_path holds for all of it on whichever server connection a
    transaction pooler hands it. An exception that escapes a view or a middleware rolls
    the transaction back (as ``ATOMIC_REQUESTS`` would); a response of any status is
    committed. A database that cannot be reached in time -- a pool exhausted past the
    pooler's wait bound, a server down past ``DATABASE_CONNECT_RETRY_SECONDS`` -- is a
    503 with ``Retry-After``, never another tenant's data and never a 500.

    With a read replica configured (ADR 0015), a safe request on a known tenant host of a
    client that has not written recently runs its transaction on the replica instead
    (``_on_replica``), and an unsafe one marks its client sticky to the primary.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = normalise_host(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))
        if not replicas.configured():
            return self._on_primary(request, host)
        if request.method in replicas.SAFE_METHODS:
            response = self._on_replica(request, host)
            if response is not None:
                return response
        with replicas.reads_from(DEFAULT_DB_ALIAS) as reads:  # notes whether it wrote
            response = self._on_primary(request, host)
        tenant = getattr(request, "tenant", None)
        if tenant is not None and (request.method not in replicas.SAFE_METHODS or reads.wrote):
            # After the commit: this client's reads stay on the primary for a while.
            replicas.mark_wrote(request, response, tenant)
        return response

    def _on_replica(self, request: HttpRequest, host: str | None) -> HttpResponse | None:
        """Serve a safe request's reads from the replica (ADR 0015), or return None for the
        primary: the host is not a tenant this process knows yet, the client wrote to it
        recently, the replica lags or is down -- or it failed before the request could
        finish without a write, in which case the request runs again on the primary."""
        tenant = resolver.cached_tenant(host)
        if (
            tenant is None
            or not replicas.health.usable()
            or replicas.wrote_recently(request, tenant)
        ):
            return None
        db = tenant_connection()
        try:
            # The generation check of the cached tenant, on the primary, in autocommit: one
            # statement, and no server connection of the primary held for the request.
            route = resolver.route(host)
        except (OperationalError, InterfaceError) as exc:
            return database_unavailable(request, exc)
        except DatabaseError as exc:
            db.close()
            return database_unavailable(request, exc)
        if not route.found or route.tenant is None:
            return self._not_found(request)
        request.tenant = route.tenant  # type: ignore[attr-defined]
        request.is_public_host = False  # type: ignore[attr-defined]
        replica = replicas.replica_connection()
        response: HttpResponse | None = None
        wrote = lost = False
        try:
            with replica.unit_of_work():
                # The replica's transaction begins with the same transaction-local routing
                # statement as the primary's (it doubles as the kept connection's check).
                replica.route_to(route.tenant)
                replica.errors_occurred = False
                with replicas.reads_from(replicas.REPLICA_ALIAS) as reads:
                    response = self.get_response(request)
                wrote = reads.wrote
                # The replica failed the request: its connection died, or a query of it
                # was cancelled (a hot standby's conflict with recovery) and the view
                # could not answer. Lost work on a replica is only reads: run it again.
                lost = replica.errors_occurred and (
                    response.status_code >= 500 or not _usable(replica)
                )
                if lost:
                    transaction.set_rollback(True, using=replicas.REPLICA_ALIAS)
        except (OperationalError, InterfaceError) as exc:
            replicas.health.mark_down(str(exc))
            if response is None:  # before the view ran: the primary serves it
                return None
            # Only the COMMIT of a read-only transaction failed: the answer stands.
            return response
        if lost:
            replicas.health.mark_down("the replica was lost during a request")
            if wrote:  # not repeatable: say so rather than write twice
                return database_unavailable(
                    request, OperationalError("the replica was lost during the request")
                )
            for attribute in (_DB_ERROR_ATTR, "_cached_user"):
                if hasattr(request, attribute):
                    delattr(request, attribute)
            return None
        assert response is not None
        if wrote:  # a GET that wrote (a session saved): its writer reads the primary now
            replicas.mark_wrote(request, response, route.tenant)
        if response.status_code == 500 and getattr(request, _DB_ERROR_ATTR, None) is not None:
            return database_unavailable(request, getattr(request, _DB_ERROR_ATTR))
        return response

    def _on_primary(self, request: HttpRequest, host: str | None) -> HttpResponse:
        db = tenant_connection()
        try:
            with db.unit_of_work() as owned:
                setattr(request, _UNIT_ATTR, owned)
                response = self._routed(request, host)
        except (OperationalError, InterfaceError) as exc:
            return database_unavailable(request, exc)
        except DatabaseError as exc:
            # Only the routing statement and the COMMIT raise out of the unit (the view's
            # errors are responses by now). A COMMIT answered with nonsense -- PgBouncer
            # reporting a server connection that died under it -- leaves the outcome and
            # the connection's state unknown: drop the connection and ask for a retry.
            if not db.in_atomic_block:
                db.close()
            return database_unavailable(request, exc)
        if response.status_code == 500:
            lost = getattr(request, _DB_ERROR_ATTR, None)
            if lost is None and db.errors_occurred and not _usable(db):
                lost = OperationalError("the database connection was lost during the request")
            if lost is not None:
                # The database went away mid-request (a later middleware, or code that
                # went on inside a broken transaction): Django made it a 500 there.
                return database_unavailable(request, lost)
        return response

    def _routed(self, request: HttpRequest, host: str | None) -> HttpResponse:
        route = resolver.route(host)
        if not route.found:
            return self._not_found(request)

        request.tenant = route.tenant  # type: ignore[attr-defined]
        request.is_public_host = route.is_public  # type: ignore[attr-defined]
        if route.is_public:
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that lost its database connection answers 503, not 500."""
        if isinstance(exception, (OperationalError, InterfaceError)):
            _roll_back_unit(request)
            return database_unavailable(request, exception)
        return None

    @staticmethod
    def _not_found(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                error_body(ErrorCode.UNKNOWN_HOST, "No tenant is served at this host."),
                status=404,
            )
        return HttpResponseNotFound("<h1>Not found</h1><p>No tenant is served at this host.</p>")


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    logger.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body(ErrorCode.DATABASE_UNAVAILABLE, Message.DATABASE_UNAVAILABLE), status=503
        )
    else:
        response = HttpResponse(
            "<h1>Service unavailable</h1><p>Please retry in a moment.</p>", status=503
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _usable(db) -> bool:
    try:
        return db.connection is not None and db.is_usable()
    except Exception:
        return False


def _roll_back_unit(request: HttpRequest | None) -> None:
    # Only the request's own transaction: one it joined (a test's) is not ours to doom.
    if request is not None and getattr(request, _UNIT_ATTR, False):
        db = tenant_connection()
        if db.in_atomic_block:
            transaction.set_rollback(True)


def _on_request_exception(sender, request=None, **kwargs) -> None:
    _roll_back_unit(request)
    error = sys.exc_info()[1]  # sent from inside Django's except block
    if request is not None and isinstance(error, (OperationalError, InterfaceError)):
        setattr(request, _DB_ERROR_ATTR, error)


got_request_exception.connect(
    _on_request_exception, weak=False, dispatch_uid="tessera.middleware.rollback_on_exception"
)
