"""Plans are cached with their tenants by the resolver: a plan change must invalidate too."""

from django.db import migrations

FORWARD = """
CREATE TRIGGER billing_plan_routing_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billing_plan
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();
"""
BACKWARD = "DROP TRIGGER IF EXISTS billing_plan_routing_generation ON billing_plan;"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_seed_plans"),
        ("tenants", "0002_routing_generation_trigger"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
