"""API keys and webhook endpoints (SPEC §11): admins and owners, paid plans only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from billing.entitlements import Feature
from shared_apps.core.viewsets import (
    CreateModelMixin,
    DestroyModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
    TenantCrudViewSet,
    TenantViewSet,
)
from shared_apps.organizations.roles import Role
from tenant_apps.integrations import selectors, services
from tenant_apps.integrations.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyInputSerializer,
    ApiKeyOutputSerializer,
    PingSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
    WebhookEndpointSecretSerializer,
)


class ApiKeyViewSet(
    ListModelMixin,
    RetrieveModelMixin,
    CreateModelMixin,
    DestroyModelMixin,
    TenantViewSet,
):
    """The tenant's API keys. ``DELETE`` revokes (the key stays listed, ``revoked``)."""

    required_feature = Feature.API_KEYS
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    output_serializer_class = ApiKeyOutputSerializer
    input_serializer_class = ApiKeyInputSerializer
    filterset_fields = ["revoked", "role"]
    search_fields = ["name", "prefix"]
    ordering_fields = ["created"]
    ordering = ["-created"]

    def select(self):
        return selectors.api_key_list()

    @extend_schema(request=ApiKeyInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated(ApiKeyInputSerializer)
        membership = self.membership
        issued = services.api_key_create(
            name=data["name"],
            role=data["role"],
            expires_at=data.get("expires_at"),
            acting_user=self.acting_user,
            acting_role=membership.role,
        )
        issued.api_key.key = issued.key  # type: ignore[attr-defined]
        return Response(
            ApiKeyCreatedSerializer(issued.api_key).data, status=status.HTTP_201_CREATED
        )

    def delete_object(self, obj) -> None:
        services.api_key_revoke(api_key=obj, acting_user=self.acting_user)


class WebhookEndpointViewSet(TenantCrudViewSet):
    required_feature = Feature.WEBHOOKS
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    output_serializer_class = WebhookEndpointOutputSerializer
    input_serializer_class = WebhookEndpointInputSerializer
    filterset_fields = ["enabled"]
    search_fields = ["url", "description"]
    ordering_fields = ["created"]
    ordering = ["-created"]

    def select(self):
        return selectors.endpoint_list()

    @extend_schema(
        request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointSecretSerializer}
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated(WebhookEndpointInputSerializer)
        endpoint = services.endpoint_create(**data, acting_user=self.acting_user)
        return Response(
            WebhookEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def update_object(self, obj, data):
        return services.endpoint_update(endpoint=obj, data=data, acting_user=self.acting_user)

    def delete_object(self, obj) -> None:
        services.endpoint_delete(endpoint=obj, acting_user=self.acting_user)

    @extend_schema(request=None, responses=WebhookEndpointSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk=None) -> Response:
        endpoint = services.endpoint_rotate_secret(
            endpoint=self.get_object(), acting_user=self.acting_user
        )
        return Response(WebhookEndpointSecretSerializer(endpoint).data)

    @extend_schema(request=None, responses={202: PingSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> Response:
        event = services.endpoint_ping(endpoint=self.get_object(), acting_user=self.acting_user)
        return Response({"event": event.public_id}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=WebhookDeliverySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request: Request, pk=None) -> Response:
        queryset = selectors.delivery_list(endpoint=self.get_object())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryViewSet(TenantViewSet):
    """One delivery (an event for an endpoint): ``redeliver/`` sends it again."""

    required_feature = Feature.WEBHOOKS
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    output_serializer_class = WebhookDeliverySerializer

    def select(self):
        return selectors.delivery_list()

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk=None) -> Response:
        delivery = services.delivery_redeliver(
            delivery=self.get_object(), acting_user=self.acting_user
        )
        return Response(
            WebhookDeliverySerializer(selectors.delivery_list().get(pk=delivery.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )
