from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.organizations.selectors import member_list
from shared_apps.organizations.serializers import MemberOutputSerializer
from tenants.authentication import request_tenant


class MemberListApi(APIView):
    @extend_schema(responses=MemberOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        members = member_list(tenant=request_tenant(request))
        return Response(MemberOutputSerializer(members, many=True).data)


class MemberDetailApi(APIView):
    @extend_schema(responses=MemberOutputSerializer)
    def get(self, request: Request, member_id: int) -> Response:
        # Scoped by the tenant's organisation: another tenant's membership id is a 404.
        member = get_object_or_404(member_list(tenant=request_tenant(request)), pk=member_id)
        return Response(MemberOutputSerializer(member).data)
