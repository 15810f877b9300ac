"""Bump the routing generation on any change to tenants or domains (see tenants.resolution).

A trigger, not a Django signal: it also fires for queryset.update(), bulk operations,
raw SQL and other processes. The counter lives in a row, so a new value becomes visible
only when the change itself commits; the value comes from a sequence, so a rolled-back
change can never hand out a number that a later change reuses (no ABA on rollback).
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE IF NOT EXISTS tenants_routing_generation_seq;
INSERT INTO tenants_routinggeneration (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION tenants_bump_routing_generation() RETURNS trigger AS $$
BEGIN
    UPDATE public.tenants_routinggeneration
       SET generation = nextval('public.tenants_routing_generation_seq')
     WHERE id = 1;
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
DROP SEQUENCE IF EXISTS tenants_routing_generation_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
