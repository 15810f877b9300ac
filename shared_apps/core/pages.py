"""The gate and the shape every HTML page of a tenant host goes through.

``TenantPageView`` is to the web app what ``TenantAPIView`` is to the API (ADR 0022): a
gate base (``TenantGate``, ``gate_base=True``) whose sealed ``dispatch`` runs the gate
before any handler, so a page is tenant-scoped by construction. An anonymous visitor is
sent to the login page; everyone else passes the API's rule
(``tenants.permissions.authorize``) with the ``read_role`` / ``write_role`` the page
declares (checked at import, like a viewset's). The only way out is
``dangerously_public = "<why>"`` (the invitation page). Domain errors
(``TesseraError``) raised by the gate or by a service become an HTML page of the same
status in one place, ``error_page``.

A page parses a form, calls one service or selector, and renders one template. Form
pages use ``form_failed`` to put a service's error next to the fields it names and
answer with the error's status (400 validation, 402 plan limit, 409 conflict).
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar, TypeVar

from csp.constants import SELF
from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views import View

from shared_apps.core.errors import TesseraError
from shared_apps.organizations.roles import Role
from tenants.context import current_tenant_or_none
from tenants.permissions import (
    TenantGate,
    authorize,
    current_membership,
    require_view_feature,
)
from tenants.selectors import tenant_status_reason

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)

LOGIN_URL = "/accounts/login/"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_SIZE = 25
MAX_SEARCH_LENGTH = 200
# Pages use no inline style at all (the API's Swagger UI and the admin still need it).
PAGE_CSP = {"style-src": [SELF]}

# Partials that the accounts pages provide; the app shell includes them when present.
OPTIONAL_PARTIALS = {
    "verify_reminder": "account/_verify_reminder.html",
    "mfa_requirement": "account/_mfa_requirement.html",
}


@cache
def template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def strict_csp(response: ResponseT) -> ResponseT:
    """The page's CSP: the project's policy with ``style-src 'self'`` (django-csp)."""
    response._csp_replace = PAGE_CSP  # type: ignore[attr-defined]
    return response


def error_page(request: HttpRequest, exc: TesseraError) -> HttpResponse:
    """The one mapping from a domain error to an HTML page of the same status."""
    status = exc.http_status
    return _error_template(
        request, status, {"status": status, "code": exc.code, "message": exc.message}
    )


def status_page(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    """An HTML page for a non-domain failure (404, 400 from Django)."""
    return _error_template(request, status, {"status": status, "title": title, "message": message})


def _error_template(request: HttpRequest, status: int, context: dict) -> HttpResponse:
    return strict_csp(
        render(
            request,
            [f"errors/{status}.html", "errors/error.html"],
            {**context, "tenant": current_tenant_or_none()},
            status=status,
        )
    )


class TenantPageView(TenantGate, View, gate_base=True):
    """A page of the web app: members of this tenant only, with the API's role rule.

    ``read_role`` (GET) and ``write_role`` (POST) default to viewer and member, as in the
    API; ``writes_allowed_when_read_only`` lets a suspended tenant post (billing).
    """

    sealed_methods: ClassVar[tuple[str, ...]] = ("dispatch",)
    template_name: str = ""
    nav: str = ""
    http_method_names = ["get", "post", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        tenant = current_tenant_or_none()
        if tenant is None:  # only ever routed on tenant hosts
            raise Http404
        self.tenant = tenant
        try:
            response = self.gate(request) or super().dispatch(request, *args, **kwargs)
        except TesseraError as exc:
            response = error_page(request, exc)
        return strict_csp(response)

    def gate(self, request: HttpRequest) -> HttpResponseBase | None:
        """None to go on; a redirect to the login page for an anonymous visitor. Raises
        the domain error of ``authorize`` for anyone else who may not."""
        self.membership = current_membership(request)
        if self.dangerously_public:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), LOGIN_URL)
        is_read = request.method in SAFE_METHODS
        authorize(
            tenant=self.tenant,
            membership=self.membership,
            is_read=is_read,
            needed=self.required_role(is_read=is_read, action=None),
            writes_allowed_when_read_only=self.writes_allowed_when_read_only,
        )
        require_view_feature(self.tenant, self)
        return None

    @property
    def role(self) -> Role:
        assert self.membership is not None  # the gate let only members through
        return self.membership.role

    def allowed(self, role: Role) -> bool:
        """Whether the member could write with ``role`` needed (the buttons shown)."""
        try:
            authorize(
                tenant=self.tenant,
                membership=self.membership,
                is_read=False,
                needed=role,
                writes_allowed_when_read_only=self.writes_allowed_when_read_only,
            )
        except TesseraError:
            return False
        return True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = {
            "tenant": self.tenant,
            "membership": self.membership,
            "role": self.role,
            "can_write": self.allowed(self.write_role),
            "is_admin": self.role.at_least(Role.ADMIN),
            "is_owner": self.role == Role.OWNER,
            "nav": self.nav,
            "optional_partials": {
                key: template_exists(name) for key, name in OPTIONAL_PARTIALS.items()
            },
            "status_reason": (
                tenant_status_reason(tenant=self.tenant) if self.tenant.is_read_only else ""
            ),
        }
        context.update(kwargs)
        return context

    def render_page(
        self, template: str | None = None, *, status: int = 200, **context: Any
    ) -> HttpResponse:
        return render(
            self.request,
            template or self.template_name,
            self.get_context_data(**context),
            status=status,
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_page()


def form_failed(
    form: forms.BaseForm, exc: TesseraError, *, labels: dict[str, str] | None = None
) -> int:
    """Put a service's error on ``form`` (next to the fields it names, else on top) and
    return the status to answer with. ``labels`` names keys that are not form fields
    (e.g. a product id in an ``insufficient_stock`` error)."""
    placed = False
    for field, messages in (exc.fields or {}).items():
        if not isinstance(messages, list | tuple):
            continue  # details such as {"limit": "products", "allowed": 10}
        if field in form.fields:
            for message in messages:
                form.add_error(field, str(message))
        else:
            name = (labels or {}).get(str(field))
            for message in messages:
                form.add_error(None, f"{name}: {message}" if name else str(message))
        placed = True
    if not placed:
        form.add_error(None, exc.message)
    return exc.http_status


def paginate(request: HttpRequest, queryset: QuerySet, *, per_page: int = PAGE_SIZE) -> Page:
    """Page ``?page=N`` of ``queryset``; a malformed or out-of-range number shows the
    nearest page instead of failing."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def search(queryset: QuerySet, fields: list[str], term: str) -> QuerySet:
    """The API's ``?search=`` (DRF SearchFilter: every word in one of ``fields``)."""
    for word in term.split():
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(condition)
    return queryset


def label_filters(filters, **empty_labels: str):
    """Readable "any" choices on a django-filter form shown on a page (display only)."""
    for name, label in empty_labels.items():
        field = filters.form.fields[name]
        if hasattr(field, "empty_label"):
            field.empty_label = label
        elif getattr(field, "choices", None):
            field.choices = [("", label), *[c for c in field.choices if c[0] != ""]]
    return filters


class SearchForm(forms.Form):
    search = forms.CharField(required=False, max_length=MAX_SEARCH_LENGTH, label="Search")


def query_without_page(request: HttpRequest) -> str:
    """The current query string without ``page`` (for pagination links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
