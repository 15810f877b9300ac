"""OpenAPI description of API-key authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenant_apps.integrations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Api-Key <key>` with a key created at POST /api/v1/api-keys/ "
                "on this tenant's host. A key acts with its role in its tenant only; on any "
                "other host, revoked or expired, it gets 401."
            ),
        }
