"""Forms of the integrations sections of the settings page (input shapes only: the
services decide what is allowed, as for the API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django import forms

from shared_apps.organizations.roles import Role
from tenant_apps.integrations.events import EventType
from tenant_apps.integrations.models import ApiKeyRole


class ApiKeyForm(forms.Form):
    prefix = "key"  # the settings page holds other forms (the organisation's name)
    name = forms.CharField(max_length=50, help_text="What uses it, e.g. “Shop front” or “ERP”.")
    role = forms.ChoiceField(choices=ApiKeyRole.choices, initial=ApiKeyRole.MEMBER)
    expires_at = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the end of this day (UTC). Empty: never.",
    )

    def __init__(self, *args, acting_role: Role, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Offer the roles the creator may give; the service refuses the others anyway.
        field = self.fields["role"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (value, label)
            for value, label in ApiKeyRole.choices
            if Role(value).rank <= Role(acting_role).rank
        ]

    def expiry(self) -> datetime | None:
        day: date | None = self.cleaned_data.get("expires_at")
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class EndpointForm(forms.Form):
    prefix = "endpoint"
    # A plain text field: the service's destination check is the one judge of a URL
    # (https only, public addresses only) and says why in words.
    url = forms.CharField(
        max_length=2000,
        label="URL",
        widget=forms.URLInput(attrs={"placeholder": "https://erp.example.com/hooks/tessera"}),
        help_text="https:// only, on a public address.",
    )
    events = forms.MultipleChoiceField(
        choices=[(value, f"{value} — {label}") for value, label in EventType.choices],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    description = forms.CharField(max_length=500, required=False)
