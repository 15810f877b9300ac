"""The one place a request's tenant is decided."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import transaction
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.urls import set_urlconf

from shared_apps.core.errors import ErrorCode, Message, error_body
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
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = normalise_host(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))
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
