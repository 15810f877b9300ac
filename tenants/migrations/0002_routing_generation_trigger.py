"""Bump the routing generation on any change to tenants or domains (see tenants.resolution).

A trigger, not a Django signal: it also fires for queryset.update(), bulk operations,
raw SQL and other processes, and it commits (or rolls back) with the change itself, so
a reader that sees the new generation also sees the new rows.
"""

from django.db import migrations

FORWARD = """
INSERT INTO tenants_routinggeneration (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION tenants_bump_routing_generation() RETURNS trigger AS $$
BEGIN
    UPDATE public.tenants_routinggeneration SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_tenant_routing_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants_tenant
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();

CREATE TRIGGER tenants_domain_routing_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants_domain
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tenants_domain_routing_generation ON tenants_domain;
DROP TRIGGER IF EXISTS tenants_tenant_routing_generation ON tenants_tenant;
DROP FUNCTION IF EXISTS tenants_bump_routing_generation();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
