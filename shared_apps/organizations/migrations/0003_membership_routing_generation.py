"""Bump the routing generation on any change that can change a membership answer.

The per-process membership cache (``tenants.membership_cache``) is validated by the
routing generation, as the host cache is (``tenants`` migration 0002, whose function this
reuses). So the generation moves on any write to memberships (added, role changed,
removed) and organisations (deactivated), and on any change to a user row except
``last_login`` (written at every login; nothing cached depends on it): deactivated, a
new password (which ends the user's tokens), a new e-mail or name. Triggers, not signals:
they also fire for ``queryset.update()``, bulk operations, raw SQL and other processes.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER organizations_organizationuser_routing_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organizations_organizationuser
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();

CREATE TRIGGER organizations_organization_routing_generation
    AFTER UPDATE OR DELETE OR TRUNCATE ON organizations_organization
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();

CREATE TRIGGER accounts_user_routing_generation
    AFTER UPDATE ON accounts_user
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_login') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login'))
    EXECUTE FUNCTION tenants_bump_routing_generation();

CREATE TRIGGER accounts_user_deleted_routing_generation
    AFTER DELETE OR TRUNCATE ON accounts_user
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_bump_routing_generation();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS accounts_user_deleted_routing_generation ON accounts_user;
DROP TRIGGER IF EXISTS accounts_user_routing_generation ON accounts_user;
DROP TRIGGER IF EXISTS organizations_organization_routing_generation
    ON organizations_organization;
DROP TRIGGER IF EXISTS organizations_organizationuser_routing_generation
    ON organizations_organizationuser;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0002_alter_organizationinvitation_options_and_more"),
        ("accounts", "0002_tenant_security_policy"),
        ("tenants", "0002_routing_generation_trigger"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
