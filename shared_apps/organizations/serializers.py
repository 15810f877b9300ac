from rest_framework import serializers

from shared_apps.organizations.models import OrganizationUser


class MemberOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    user_id = serializers.IntegerField()

    class Meta:
        model = OrganizationUser
        fields = ["id", "user_id", "email", "full_name", "role", "created"]
