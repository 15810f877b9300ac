"""Base views for tenant APIs: parse input, call one service or selector, render output.

Tenant-scoped by construction (ADR 0022): ``TenantAPIView`` and ``TenantViewSet`` run the
tenant gate (``tenants.permissions.tenant_gate``) in ``check_permissions`` before any
permission a subclass or an ``@action`` declares, so no declaration can drop membership,
the role check or the read-only rule. Roles are declared as ``read_role``,
``write_role`` and ``action_roles`` (checked at import); a view that must be reachable
without membership says ``dangerously_public = "<why>"``. The tenant is ``self.tenant``;
the member acting is ``self.acting_user``. A viewset reads through ``select()``
(``get_queryset`` is sealed).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from rest_framework import exceptions, generics, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from shared_apps.core.errors import NotAMember
from shared_apps.core.serializers import ValuesPlan, values_plan
from shared_apps.organizations.selectors import Membership
from tenants.context import current_tenant, current_tenant_or_none
from tenants.models import Tenant
from tenants.permissions import TenantGate, current_membership, tenant_gate


class TenantAPIView(TenantGate, APIView, gate_base=True):
    """Base of every view on a tenant host's API."""

    sealed_methods: ClassVar[tuple[str, ...]] = ("check_permissions", "initial")
    # Extra checks only: the gate runs whatever this says.
    permission_classes = []  # type: ignore[assignment]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if current_tenant_or_none() is None:  # only ever routed on tenant hosts
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)

    def check_permissions(self, request: Request) -> None:
        if not self.dangerously_public:
            tenant_gate(request, self)
        super().check_permissions(request)

    @property
    def tenant(self) -> Tenant:
        return current_tenant()

    @property
    def membership(self) -> Membership:
        """The acting member's membership (the gate has checked it on a gated view)."""
        membership = current_membership(self.request)
        if membership is None:
            raise NotAMember()
        return membership

    @property
    def acting_user(self) -> Any:
        """The member acting (authenticated by the gate on every gated request): a
        ``User``, or an API key's principal on the endpoints that accept keys (typed
        ``Any``: which one depends on the endpoint, and the services say what they take,
        ``User`` or ``tenant_apps.audit.services.ActingUser``)."""
        return self.request.user


class TenantViewSet(viewsets.ViewSetMixin, TenantAPIView, generics.GenericAPIView, gate_base=True):
    sealed_methods: ClassVar[tuple[str, ...]] = ("check_permissions", "initial", "get_queryset")
    # Ids are integers: anything else is a 404 at the URL, never a 500 in the query.
    lookup_value_converter = "int"
    output_serializer_class: type[BaseSerializer]
    list_serializer_class: type[BaseSerializer] | None = None
    input_serializer_class: type[BaseSerializer] | None = None
    update_serializer_class: type[BaseSerializer] | None = None

    def get_serializer_class(self):
        if self.action == "list" and self.list_serializer_class is not None:
            return self.list_serializer_class
        return self.output_serializer_class

    def select(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        return self.select()

    def validated(self, serializer_class: type[BaseSerializer], *, partial: bool = False) -> dict:
        serializer = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def render(self, obj: Any, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(
            self.output_serializer_class(obj, context=self.get_serializer_context()).data,
            status=status_code,
        )


class ListModelMixin:
    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        plan = self._values_plan(queryset)
        if plan is not None:
            queryset = queryset.values(*plan[0])
        page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
        serializer = self.get_serializer(page, many=True)  # type: ignore[attr-defined]
        if plan is not None:
            serializer.child.read_values(plan[2])
        return self.get_paginated_response(serializer.data)  # type: ignore[attr-defined]

    def _values_plan(self, queryset: QuerySet) -> ValuesPlan | None:
        """The serializer's values plan when this list can be read as ``.values()`` rows
        (``shared_apps.core.serializers``): a plain model queryset of the serializer's
        model, every annotation the plan reads made, and the cursor's ordering fields
        among the columns (the cursor is read from the last row)."""
        serializer_class = self.get_serializer_class()  # type: ignore[attr-defined]
        plan = values_plan(serializer_class)
        if (
            plan is None
            or not isinstance(queryset, QuerySet)
            or queryset.model is not serializer_class.Meta.model
            or queryset._iterable_class is not ModelIterable
            or queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or queryset._fields is not None  # type: ignore[attr-defined]
        ):
            return None
        columns, annotations, _ = plan
        if any(name not in queryset.query.annotations for name in annotations):
            return None
        paginator = self.paginator  # type: ignore[attr-defined]
        if paginator is not None:
            if not isinstance(paginator, CursorPagination):
                return None
            view: Any = self
            ordering = paginator.get_ordering(view.request, queryset, view)
            if any(field.lstrip("-") not in columns for field in ordering):
                return None
        return plan


class RetrieveModelMixin:
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return self.render(self.get_object())  # type: ignore[attr-defined]


class CreateModelMixin:
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated(self.input_serializer_class)  # type: ignore[attr-defined]
        obj = self.create_object(data)
        return self.render(obj, status_code=status.HTTP_201_CREATED)  # type: ignore[attr-defined]

    def create_object(self, data: dict) -> Model:
        raise NotImplementedError


class UpdateModelMixin:
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.update_serializer_class or self.input_serializer_class  # type: ignore[attr-defined]
        data = self.validated(serializer, partial=True)  # type: ignore[attr-defined]
        return self.render(self.update_object(self.get_object(), data))  # type: ignore[attr-defined]

    def update_object(self, obj: Model, data: dict) -> Model:
        raise NotImplementedError


class DestroyModelMixin:
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        self.delete_object(self.get_object())  # type: ignore[attr-defined]
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete_object(self, obj: Model) -> None:
        raise NotImplementedError


class TenantCrudViewSet(
    ListModelMixin,
    RetrieveModelMixin,
    CreateModelMixin,
    UpdateModelMixin,
    DestroyModelMixin,
    TenantViewSet,
):
    """List, retrieve, create, partial update (PATCH; no PUT) and delete through services."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
