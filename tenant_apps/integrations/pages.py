"""The integrations part of the settings page: API keys and webhook endpoints, for admins
and owners of a paid plan, through the services the API uses (SPEC §11).

Every action is a ``TenantPageView`` with ``write_role`` admin and the plan feature it
needs (``required_feature``): a member or viewer who posts gets the 403 page, a free
plan the 402 page, before any handler runs. A key or a secret is shown once, in the
answer to the request that made it (rendered, not redirected: it is never stored
anywhere it could be shown again). An id of another tenant's key, endpoint or delivery
is a 404: the row is not in this tenant's schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect

from billing.entitlements import Feature
from shared_apps.core.errors import TesseraError
from shared_apps.core.pages import TenantPageView, form_failed, paginate
from shared_apps.organizations.pages import SettingsPage
from shared_apps.organizations.roles import Role
from tenant_apps.integrations import selectors, services
from tenant_apps.integrations.forms import ApiKeyForm, EndpointForm
from tenant_apps.integrations.models import DeliveryStatus, WebhookEndpoint


class _SettingsAction(SettingsPage):
    """A POST of the settings page that answers with the page again on an error."""

    http_method_names = ["post"]

    def act(self, action: Callable[[], Any], success: str, to: str = "app:settings") -> Any:
        try:
            action()
        except TesseraError as exc:
            return self.render_settings(error=exc, status=exc.http_status)
        messages.success(self.request, success)
        return redirect(to)


# API keys ------------------------------------------------------------------------------------


class ApiKeyCreateAction(_SettingsAction):
    required_feature = Feature.API_KEYS

    def post(self, request, *args, **kwargs):
        form = ApiKeyForm(request.POST, acting_role=self.role)
        if not form.is_valid():
            return self.render_settings(key_form=form, status=400)
        try:
            issued = services.api_key_create(
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                expires_at=form.expiry(),
                acting_user=request.user,
                acting_role=self.role,
            )
        except TesseraError as exc:
            return self.render_settings(key_form=form, status=form_failed(form, exc))
        return self.render_settings(issued_key=issued)


class ApiKeyRevokeAction(_SettingsAction):
    required_feature = Feature.API_KEYS

    def post(self, request, *args, **kwargs):
        api_key = get_object_or_404(selectors.api_key_list(), pk=self.kwargs["pk"])
        return self.act(
            lambda: services.api_key_revoke(api_key=api_key, acting_user=request.user),
            f"The key “{api_key.name}” ({api_key.prefix}) was revoked.",
        )


# Webhook endpoints ---------------------------------------------------------------------------


class WebhookEndpointCreateAction(_SettingsAction):
    required_feature = Feature.WEBHOOKS

    def post(self, request, *args, **kwargs):
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return self.render_settings(endpoint_form=form, status=400)
        try:
            endpoint = services.endpoint_create(
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                acting_user=request.user,
            )
        except TesseraError as exc:
            return self.render_settings(endpoint_form=form, status=form_failed(form, exc))
        return self.render_settings(new_endpoint=endpoint)


class WebhookEndpointPage(TenantPageView):
    """One endpoint: change it, enable or disable, rotate its secret, ping it, delete it,
    and its delivery log (htmx refreshes the log while a delivery is pending)."""

    template_name = "app/settings/webhook.html"
    nav = "settings"
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    required_feature = Feature.WEBHOOKS

    def endpoint(self) -> WebhookEndpoint:
        return get_object_or_404(selectors.endpoint_list(), pk=self.kwargs["pk"])

    def render_endpoint(
        self,
        endpoint: WebhookEndpoint,
        *,
        form: EndpointForm | None = None,
        new_secret: str = "",
        error: TesseraError | None = None,
        status: int = 200,
    ) -> HttpResponse:
        return self.render_page(
            form=form
            or EndpointForm(
                initial={
                    "url": endpoint.url,
                    "events": endpoint.events,
                    "description": endpoint.description,
                }
            ),
            new_secret=new_secret,
            error=error,
            **self.log_context(endpoint),
            status=error.http_status if error else status,
        )

    def log_context(self, endpoint: WebhookEndpoint) -> dict[str, Any]:
        # Asked before the deliveries are read: a dispatch committing between the two
        # reads then shows as its deliveries, never as neither (no refresh, none shown).
        awaits_dispatch = selectors.endpoint_awaits_dispatch(endpoint=endpoint)
        page = paginate(self.request, selectors.delivery_list(endpoint=endpoint))
        return {
            "endpoint": endpoint,
            "deliveries": page,
            "polling": awaits_dispatch
            or any(d.status == DeliveryStatus.PENDING for d in page.object_list),
            "poll_seconds": settings.WEBHOOK_LOG_POLL_SECONDS,
        }

    def get(self, request, *args, **kwargs):
        return self.render_endpoint(self.endpoint())

    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return self.render_endpoint(endpoint, form=form, status=400)
        try:
            services.endpoint_update(
                endpoint=endpoint, data=form.cleaned_data, acting_user=request.user
            )
        except TesseraError as exc:
            return self.render_endpoint(endpoint, form=form, status=form_failed(form, exc))
        messages.success(request, "The endpoint was saved.")
        return redirect("app:webhook-endpoint-detail", pk=endpoint.pk)

    def act(self, endpoint: WebhookEndpoint, action: Callable[[], Any], success: str):
        try:
            action()
        except TesseraError as exc:
            return self.render_endpoint(endpoint, error=exc)
        messages.success(self.request, success)
        return redirect("app:webhook-endpoint-detail", pk=endpoint.pk)


class WebhookDeliveryLogFragment(WebhookEndpointPage):
    """The delivery log alone (what htmx polls)."""

    template_name = "app/settings/webhook.html#delivery-log"
    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        return self.render_page(**self.log_context(self.endpoint()))


class WebhookEndpointToggleAction(WebhookEndpointPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        enabled = request.POST.get("enabled") == "true"
        return self.act(
            endpoint,
            lambda: services.endpoint_update(
                endpoint=endpoint, data={"enabled": enabled}, acting_user=request.user
            ),
            "The endpoint is enabled." if enabled else "The endpoint is disabled.",
        )


class WebhookEndpointRotateAction(WebhookEndpointPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        rotated = services.endpoint_rotate_secret(
            endpoint=self.endpoint(), acting_user=request.user
        )
        return self.render_endpoint(rotated, new_secret=rotated.secret)


class WebhookEndpointTestAction(WebhookEndpointPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        return self.act(
            endpoint,
            lambda: services.endpoint_ping(endpoint=endpoint, acting_user=request.user),
            "A ping is on its way; it appears in the delivery log below.",
        )


class WebhookEndpointDeleteAction(WebhookEndpointPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        endpoint = self.endpoint()
        services.endpoint_delete(endpoint=endpoint, acting_user=request.user)
        messages.success(request, f"The endpoint {endpoint.url} was deleted.")
        return redirect("app:settings")


class WebhookDeliveryRedeliverAction(WebhookEndpointPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        delivery = get_object_or_404(selectors.delivery_list(), pk=self.kwargs["pk"])
        endpoint = delivery.endpoint
        return self.act(
            endpoint,
            lambda: services.delivery_redeliver(delivery=delivery, acting_user=request.user),
            f"Delivery of {delivery.event.public_id} queued again (same webhook-id).",
        )
