from django.urls import path

from shared_apps.organizations import pages

urlpatterns = [
    path("team/", pages.TeamPage.as_view(), name="team"),
    path("team/invite/", pages.InviteAction.as_view(), name="team-invite"),
    path("team/members/<int:pk>/role/", pages.MemberRoleAction.as_view(), name="member-role"),
    path("team/members/<int:pk>/remove/", pages.MemberRemoveAction.as_view(), name="member-remove"),
    path(
        "team/invitations/<int:pk>/revoke/",
        pages.InvitationRevokeAction.as_view(),
        name="invitation-revoke",
    ),
    path(
        "team/invitations/<int:pk>/resend/",
        pages.InvitationResendAction.as_view(),
        name="invitation-resend",
    ),
    path("settings/", pages.SettingsPage.as_view(), name="settings"),
]
