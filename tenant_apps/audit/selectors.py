from django.db.models import QuerySet

from tenant_apps.audit.models import AuditEntry


def audit_entry_list() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("actor", "actor_api_key", "support_admin")
