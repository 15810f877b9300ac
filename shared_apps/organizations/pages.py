"""Team, settings and invitation pages, through the membership and invitation services.

The role rules are the services' and the API's: everyone reads the member list; admins
(and owners) change roles, remove members and manage invitations; anyone may leave;
only owners touch the owner role; the last owner stays.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from shared_apps.accounts.models import User
from shared_apps.core.errors import TesseraError
from shared_apps.core.pages import TenantPageView, form_failed, paginate
from shared_apps.organizations import services
from shared_apps.organizations.forms import (
    AcceptExistingAccountForm,
    AcceptNewAccountForm,
    InviteForm,
    OrganizationForm,
    RoleForm,
)
from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import (
    invitation_for_token,
    invitation_list,
    member_list,
)
from tenant_apps.audit.selectors import audit_entry_list
from tenant_apps.integrations.settings_sections import integrations_sections
from tenants.context import current_tenant_or_none

# Team ----------------------------------------------------------------------------------------


class TeamPage(TenantPageView):
    template_name = "app/team.html"
    nav = "team"
    write_role = Role.ADMIN

    def render_team(self, *, invite_form=None, error: TesseraError | None = None, status=200):
        is_admin = self.role.at_least(Role.ADMIN)
        return self.render_page(
            members=member_list(tenant=self.tenant),
            invitations=invitation_list(tenant=self.tenant) if is_admin else None,
            invite_form=invite_form or InviteForm(),
            roles=Role.choices,
            error=error,
            status=error.http_status if error else status,
        )

    def get(self, request, *args, **kwargs):
        return self.render_team()

    def membership_row(self) -> OrganizationUser:
        return get_object_or_404(member_list(tenant=self.tenant), pk=self.kwargs["pk"])

    def invitation_row(self) -> OrganizationInvitation:
        return get_object_or_404(invitation_list(tenant=self.tenant), pk=self.kwargs["pk"])

    def act(self, action, success: str) -> HttpResponse:
        try:
            action()
        except TesseraError as exc:
            return self.render_team(error=exc)
        messages.success(self.request, success)
        return redirect("app:team")


class InviteAction(TeamPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = InviteForm(request.POST)
        if not form.is_valid():
            return self.render_team(invite_form=form, status=400)
        try:
            services.invitation_create(
                tenant=self.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                acting_user=request.user,
                accept_url=accept_url(request),
            )
        except TesseraError as exc:
            return self.render_team(invite_form=form, status=form_failed(form, exc))
        messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        return redirect("app:team")


class MemberRoleAction(TeamPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        membership = self.membership_row()
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.render_team(status=400)
        return self.act(
            lambda: services.member_change_role(
                tenant=self.tenant,
                membership=membership,
                role=form.cleaned_data["role"],
                acting_user=request.user,
            ),
            f"{membership.user.email} is now {Role(form.cleaned_data['role']).label.lower()}.",
        )


class MemberRemoveAction(TeamPage):
    http_method_names = ["post"]
    # Leaving is open to every member; the service decides who may remove whom (as the API).
    write_role = Role.VIEWER

    def post(self, request, *args, **kwargs):
        membership = self.membership_row()
        leaving = membership.user_id == request.user.pk
        response = self.act(
            lambda: services.member_remove(
                tenant=self.tenant, membership=membership, acting_user=request.user
            ),
            "You left the organisation." if leaving else f"{membership.user.email} was removed.",
        )
        if leaving and response.status_code == 302:
            return redirect("/accounts/logout/")
        return response


class InvitationRevokeAction(TeamPage):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        invitation = self.invitation_row()
        return self.act(
            lambda: services.invitation_revoke(invitation=invitation, acting_user=request.user),
            f"The invitation of {invitation.invitee_identifier} was revoked.",
        )


class InvitationResendAction(TeamPage):
    """A new email with a new token (the old link stops working), as re-inviting does."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        invitation = self.invitation_row()
        return self.act(
            lambda: services.invitation_create(
                tenant=self.tenant,
                email=invitation.invitee_identifier,
                role=invitation.role,
                acting_user=request.user,
                accept_url=accept_url(request),
            ),
            f"The invitation was sent again to {invitation.invitee_identifier}.",
        )


def accept_url(request: HttpRequest) -> str:
    """The invitation page on this tenant's host (the link in the email)."""
    return request.build_absolute_uri(reverse("invitation-accept-page"))


# Settings ------------------------------------------------------------------------------------


class SettingsPage(TenantPageView):
    template_name = "app/settings.html"
    nav = "settings"
    write_role = Role.ADMIN
    audit_entries_shown = 50

    def render_settings(self, form=None, *, status=200, error=None, **sections):
        """The whole page; ``error`` a service's refusal of an integrations action,
        ``sections`` go to the integrations sections (a form with its errors, a key or
        a secret to show once)."""
        is_admin = self.role.at_least(Role.ADMIN)
        return self.render_page(
            form=form or OrganizationForm(initial={"name": self.tenant.name}),
            audit_page=paginate(self.request, audit_entry_list().order_by("-created", "-id"))
            if is_admin
            else None,
            status=status,
            integrations_error=error,
            **integrations_sections(self, **sections),
        )

    def get(self, request, *args, **kwargs):
        return self.render_settings()

    def post(self, request, *args, **kwargs):
        form = OrganizationForm(request.POST)
        if not form.is_valid():
            return self.render_settings(form, status=400)
        try:
            services.organization_rename(
                tenant=self.tenant, name=form.cleaned_data["name"], acting_user=request.user
            )
        except TesseraError as exc:
            return self.render_settings(form, status=form_failed(form, exc))
        messages.success(request, "The organisation's name was saved.")
        return redirect("app:settings")


# Accepting an invitation -----------------------------------------------------------------------


class InvitationAcceptPage(TenantPageView):
    """``/invitations/accept/?token=...``: deliberately open (the token is the proof).

    Shows who invited whom to what; an invitee with an account gives its password (or is
    already signed in as that account), one without sets a password. Then they join
    through ``invitation_accept``, are signed in on this host and land on the dashboard.
    A token of another tenant is unknown here.
    """

    dangerously_public = "the invitee is not a member yet: the token is the proof"
    template_name = "invitations/accept.html"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        tenant = current_tenant_or_none()
        if tenant is None:
            raise Http404
        self.tenant = tenant
        self.token = (request.POST.get("token") or request.GET.get("token") or "").strip()
        self.invitation = invitation_for_token(tenant=self.tenant, token=self.token)

    def refused(self) -> HttpResponse | None:
        """The clear page for a token that cannot be used, or None."""
        invitation = self.invitation
        if invitation is None:
            return self.page(
                "invitations/invalid.html",
                status=400,
                reason="unknown",
            )
        if invitation.accepted_at is not None:
            return self.page("invitations/invalid.html", status=410, reason="used")
        if not invitation.is_pending:
            return self.page("invitations/invalid.html", status=410, reason="expired")
        return None

    def account(self) -> User | None:
        assert self.invitation is not None
        return User.objects.filter(email__iexact=self.invitation.invitee_identifier).first()

    def form_for(self, account: User | None, data=None):
        if account is None:
            return AcceptNewAccountForm(data)
        if self.request.user.is_authenticated and self.request.user.pk == account.pk:
            return None  # signed in as the invitee: one click joins
        return AcceptExistingAccountForm(data)

    def page(self, template: str | None = None, *, status: int = 200, **context) -> HttpResponse:
        context.setdefault("tenant", self.tenant)
        context.setdefault("invitation", self.invitation)
        context.setdefault("token", self.token)
        return render(self.request, template or self.template_name, context, status=status)

    def get(self, request, *args, **kwargs):
        refused = self.refused()
        if refused is not None:
            return refused
        account = self.account()
        return self.page(account=account, form=self.form_for(account))

    def post(self, request, *args, **kwargs):
        refused = self.refused()
        if refused is not None:
            return refused
        account = self.account()
        form = self.form_for(account, request.POST)
        if form is not None and not form.is_valid():
            return self.page(account=account, form=form, status=400)
        data = form.cleaned_data if form is not None else {}
        try:
            membership = services.invitation_accept(
                tenant=self.tenant,
                token=self.token,
                password=data.get("password", ""),
                full_name=data.get("full_name", ""),
                authenticated_user=request.user if request.user.is_authenticated else None,
            )
        except TesseraError as exc:
            if form is None:
                form = AcceptExistingAccountForm()
            return self.page(account=account, form=form, status=form_failed(form, exc))
        # A new session (login rotates the key) in this tenant's schema only.
        login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
        messages.success(request, f"Welcome to {self.tenant.name}.")
        return redirect("dashboard")
