"""Members and invitations of the request's tenant."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from shared_apps.core.errors import ValidationFailed
from shared_apps.core.viewsets import (
    CreateModelMixin,
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    TenantViewSet,
    UpdateModelMixin,
)
from shared_apps.organizations import services
from shared_apps.organizations.models import OrganizationInvitation
from shared_apps.organizations.roles import Role
from shared_apps.organizations.selectors import member_list
from shared_apps.organizations.serializers import (
    InvitationAcceptSerializer,
    InvitationInputSerializer,
    InvitationOutputSerializer,
    MemberOutputSerializer,
    MemberRoleInputSerializer,
)
from tenants.authentication import CredentialsInBody


class MemberViewSet(
    ListModelMixin, RetrieveModelMixin, UpdateModelMixin, DestroyModelMixin, TenantViewSet
):
    """Everyone reads the member list; admins and owners change roles and remove members
    (members may remove themselves: the service checks who acts on whom)."""

    output_serializer_class = MemberOutputSerializer
    update_serializer_class = MemberRoleInputSerializer
    input_serializer_class = MemberRoleInputSerializer
    write_role = Role.ADMIN
    # Leaving is open to every member; the service decides who may remove whom.
    action_roles = {"destroy": Role.VIEWER}
    filter_backends: list = []
    ordering = ["created"]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def select(self):
        return member_list(tenant=self.tenant)

    def update_object(self, obj, data):
        if "role" not in data:
            raise ValidationFailed(fields={"role": ["This field is required."]})
        return services.member_change_role(
            tenant=self.tenant,
            membership=obj,
            role=data["role"],
            acting_user=self.acting_user,
        )

    def delete_object(self, obj):
        services.member_remove(tenant=self.tenant, membership=obj, acting_user=self.acting_user)


class InvitationViewSet(ListModelMixin, CreateModelMixin, DestroyModelMixin, TenantViewSet):
    output_serializer_class = InvitationOutputSerializer
    input_serializer_class = InvitationInputSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filter_backends: list = []
    ordering = ["-created"]

    def select(self):
        return OrganizationInvitation.objects.for_tenant(self.tenant).select_related("invited_by")

    def create_object(self, data):
        issued = services.invitation_create(
            tenant=self.tenant,
            email=data["email"],
            role=data["role"],
            acting_user=self.acting_user,
            # The link in the email opens the invitation page on this host.
            accept_url=self.request.build_absolute_uri(reverse("invitation-accept-page")),
        )
        return issued.invitation

    def delete_object(self, obj):
        services.invitation_revoke(invitation=obj, acting_user=self.acting_user)

    @extend_schema(
        request=InvitationAcceptSerializer, responses={201: MemberOutputSerializer}, auth=[]
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="accept",
        url_name="accept",
        dangerously_public="the invitation token is the proof; it is bound to this tenant",
        authentication_classes=[CredentialsInBody],
    )
    def accept(self, request):
        """Accept an invitation with its token (no sign-in needed: the token is the proof)."""
        data = self.validated(InvitationAcceptSerializer)
        user = request._request.user if request._request.user.is_authenticated else None
        membership = services.invitation_accept(
            tenant=self.tenant,
            token=data["token"],
            password=data.get("password", ""),
            full_name=data.get("full_name", ""),
            authenticated_user=user,
        )
        return Response(MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)
