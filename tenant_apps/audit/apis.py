import django_filters

from shared_apps.core.viewsets import ListModelMixin, TenantViewSet
from shared_apps.organizations.roles import Role
from tenant_apps.audit.models import AuditEntry
from tenant_apps.audit.selectors import audit_entry_list
from tenant_apps.audit.serializers import AuditEntryOutputSerializer


class AuditEntryFilter(django_filters.FilterSet):
    class Meta:
        model = AuditEntry
        fields = ["action", "object_type", "object_id", "actor", "actor_api_key"]


class AuditLogViewSet(ListModelMixin, TenantViewSet):
    """Who did what to which object in this tenant (owners and admins)."""

    output_serializer_class = AuditEntryOutputSerializer
    read_role = Role.ADMIN
    filterset_class = AuditEntryFilter
    search_fields: list[str] = []
    ordering_fields = ["created"]
    ordering = ["-created"]

    def select(self):
        return audit_entry_list()
