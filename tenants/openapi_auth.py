"""OpenAPI description of the tenant-bound JWT authentication (drf-spectacular)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class TenantJWTScheme(SimpleJWTScheme):
    target_class = "tenants.authentication.TenantJWTAuthentication"
    name = "tenantJWT"

    def get_security_definition(self, auto_schema):
        definition = super().get_security_definition(auto_schema)
        definition["description"] = (
            "Access token from POST /api/v1/auth/token/ on this tenant's host. "
            "Tokens are bound to the tenant that issued them and refused (401) elsewhere."
        )
        return definition
