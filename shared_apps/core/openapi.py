"""drf-spectacular schema: input/output serializers per operation, SPEC §4 error bodies."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case error code, e.g. validation_error")
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]  # the JSON key
        help_text="per-field messages (validation errors)"
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERRORS_ALWAYS = {
    "400": "Validation error, malformed JSON or an invalid query parameter.",
    "401": "Not authenticated, or the token belongs to another tenant.",
    "403": "Not a member of this tenant, or the role does not allow it.",
    "402": "feature_not_in_plan: the plan lacks the feature (API keys, webhooks).",
    "404": "No such object in this tenant.",
    "429": "Throttled; see the Retry-After header.",
}
_ERRORS_ON_WRITE = {
    "400": "Validation error or malformed JSON.",
    "402": "tenant_suspended (read-only tenant), plan_limit_exceeded or feature_not_in_plan.",
    "409": "Conflict with the current state.",
    "413": "Request body too large.",
}


class TesseraAutoSchema(AutoSchema):
    def get_request_serializer(self):
        view = self.view
        if self.method in ("POST", "PUT", "PATCH"):
            if self.method == "PATCH" and getattr(view, "update_serializer_class", None):
                return getattr(view, "update_serializer_class")  # noqa: B009
            if getattr(view, "input_serializer_class", None) and getattr(view, "action", None) in (
                "create",
                "update",
                "partial_update",
            ):
                return getattr(view, "input_serializer_class")  # noqa: B009
        return super().get_request_serializer()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._is_public():
            errors = {
                "400": _ERRORS_ON_WRITE["400"],
                "401": "Wrong credentials, or a token/invitation not issued for this tenant.",
                "429": _ERRORS_ALWAYS["429"],
            }
        else:
            errors = dict(_ERRORS_ALWAYS)
            if self.method not in ("GET", "HEAD", "OPTIONS"):
                errors.update(_ERRORS_ON_WRITE)
        for code, description in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = description
                responses[code] = response
        return responses

    def _is_public(self) -> bool:
        """A tenant view that opts out of the gate (``dangerously_public``), or a
        public-host view open to anyone (``PublicEndpoint``)."""
        from tenants.permissions import PublicEndpoint

        if getattr(self.view, "dangerously_public", ""):
            return True
        return any(
            isinstance(p, type) and issubclass(p, PublicEndpoint)
            for p in getattr(self.view, "permission_classes", None) or []
        )
