"""The API keys and webhooks sections of the settings page (``/app/settings/``).

The settings page (``shared_apps.organizations.pages.SettingsPage``) and every
integrations action that renders it again (with a form's errors, a key or a secret to
show once) build these sections here, so the page and its actions cannot drift. Admins
and owners only, as the API (``read_role`` admin); a plan without the feature gets the
402 rule's own sentence (``billing.entitlements.require_feature``) instead of the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from billing.entitlements import Feature, require_feature
from shared_apps.core.errors import FeatureNotInPlan
from shared_apps.organizations.roles import Role
from tenant_apps.integrations import selectors
from tenant_apps.integrations.forms import ApiKeyForm, EndpointForm

if TYPE_CHECKING:
    from shared_apps.core.pages import TenantPageView
    from tenant_apps.integrations.models import WebhookEndpoint
    from tenant_apps.integrations.services import IssuedApiKey


def plan_refusal(tenant: Any, feature: Feature) -> str:
    """The 402 ``feature_not_in_plan`` message when the plan lacks ``feature``, else ""."""
    try:
        require_feature(tenant, feature)
    except FeatureNotInPlan as exc:
        return exc.message
    return ""


@dataclass(frozen=True)
class Section:
    refusal: str  # why the plan does not allow it ("" when it does)
    can_manage: bool  # admin or owner, and the tenant is not read-only
    rows: Any  # the keys or endpoints (None when refused)
    form: Any


def integrations_sections(
    page: TenantPageView,
    *,
    key_form: ApiKeyForm | None = None,
    endpoint_form: EndpointForm | None = None,
    issued_key: IssuedApiKey | None = None,
    new_endpoint: WebhookEndpoint | None = None,
) -> dict[str, Any]:
    """The template context of both sections (None for members and viewers)."""
    if not page.role.at_least(Role.ADMIN):
        return {"api_keys": None, "webhooks": None}
    can_manage = page.allowed(Role.ADMIN)
    keys_refused = plan_refusal(page.tenant, Feature.API_KEYS)
    hooks_refused = plan_refusal(page.tenant, Feature.WEBHOOKS)
    return {
        "api_keys": Section(
            refusal=keys_refused,
            can_manage=can_manage and not keys_refused,
            rows=None if keys_refused else selectors.api_key_list(),
            form=key_form or ApiKeyForm(acting_role=page.role),
        ),
        "webhooks": Section(
            refusal=hooks_refused,
            can_manage=can_manage and not hooks_refused,
            rows=None if hooks_refused else selectors.endpoint_list(),
            form=endpoint_form or EndpointForm(),
        ),
        "issued_key": issued_key,
        "new_endpoint": new_endpoint,
    }
