"""Overrides change entitlements: a write to them bumps the routing generation too.

The per-process entitlements cache (``billing.entitlements``) is validated by the
routing generation, as the host and membership caches are; plans already bump it
(migration 0003) and a tenant's new plan does (``tenants`` migration 0002). Triggers, not
signals: they also fire for ``queryset.update()``, bulk operations, raw SQL and other
processes.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER billing_tenantentitlementoverride_routing_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billing_tenantentitlementoverride
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS billing_tenantentitlementoverride_routing_generation
    ON billing_tenantentitlementoverride;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_seats_and_entitlements"),
        ("tenants", "0002_routing_generation_trigger"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
