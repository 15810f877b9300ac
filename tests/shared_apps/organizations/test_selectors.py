"""shared_apps/organizations/selectors.py: invitations by token and the list."""

from __future__ import annotations

from shared_apps.organizations import services
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import invitation_for_token, invitation_list


def test_invitation_for_token_is_scoped_and_refuses_empty_or_huge_tokens(alpha, beta, in_alpha):
    issued = services.invitation_create(
        tenant=in_alpha,
        email="found@example.test",
        role=Role.VIEWER,
        acting_user=alpha.user("owner"),
        accept_url="http://alpha.localhost/api/v1/invitations/accept/",
    )
    assert invitation_for_token(tenant=in_alpha, token=issued.token) == issued.invitation
    assert invitation_for_token(tenant=beta.tenant, token=issued.token) is None
    assert invitation_for_token(tenant=in_alpha, token="") is None
    assert invitation_for_token(tenant=in_alpha, token="x" * 201) is None
    assert list(invitation_list(tenant=in_alpha)) == [issued.invitation]
    assert list(invitation_list(tenant=beta.tenant)) == []
