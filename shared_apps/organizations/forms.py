"""Forms of the team, settings and invitation pages (input shapes only)."""

from __future__ import annotations

from django import forms

from shared_apps.organizations.roles import Role


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organisation name")


class AcceptNewAccountForm(forms.Form):
    """For an invitee without an account: they choose a password."""

    full_name = forms.CharField(max_length=150, required=False, label="Your name")
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not only digits, not a common password.",
    )
    password_again = forms.CharField(
        max_length=128,
        strip=False,
        label="Password (again)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class AcceptExistingAccountForm(forms.Form):
    """For an invitee who has an account: their password proves it is them."""

    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
