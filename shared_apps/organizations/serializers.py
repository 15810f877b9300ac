from rest_framework import serializers

from shared_apps.organizations.models import OrganizationInvitation, OrganizationUser
from shared_apps.organizations.roles import Role


class MemberOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    user_id = serializers.IntegerField()

    class Meta:
        model = OrganizationUser
        fields = ["id", "user_id", "email", "full_name", "role", "created"]


class MemberRoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="invitee_identifier")
    invited_by = serializers.EmailField(source="invited_by.email", default=None)
    status = serializers.SerializerMethodField()

    class Meta:
        model = OrganizationInvitation
        fields = [
            "id",
            "email",
            "role",
            "invited_by",
            "status",
            "created",
            "expires_at",
            "accepted_at",
        ]

    def get_status(self, obj: OrganizationInvitation) -> str:
        if obj.accepted_at:
            return "accepted"
        return "pending" if obj.is_pending else "expired"


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=200
    )
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
