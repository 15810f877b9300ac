"""Domain errors and the error codes of SPEC §4. Tests import these constants."""

from __future__ import annotations

from typing import Any


class ErrorCode:
    VALIDATION_ERROR = "validation_error"
    MALFORMED_JSON = "malformed_json"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 - an error code, not a secret
    PERMISSION_DENIED = "permission_denied"
    NOT_A_MEMBER = "not_a_member"
    NOT_FOUND = "not_found"
    UNKNOWN_HOST = "unknown_host"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_ACCEPTABLE = "not_acceptable"
    CONFLICT = "conflict"
    SUBDOMAIN_TAKEN = "subdomain_taken"
    EMAIL_REGISTERED = "email_registered"
    TENANT_SUSPENDED = "tenant_suspended"
    PLAN_LIMIT_EXCEEDED = "plan_limit_exceeded"
    FEATURE_NOT_IN_PLAN = "feature_not_in_plan"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    THROTTLED = "throttled"
    MFA_REQUIRED = "mfa_required"
    MFA_INVALID = "mfa_invalid"
    MFA_ALREADY_ENABLED = "mfa_already_enabled"
    MFA_NOT_ENABLED = "mfa_not_enabled"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    STORAGE_UNAVAILABLE = "storage_unavailable"
    SERVER_ERROR = "server_error"
    DATABASE_UNAVAILABLE = "database_unavailable"
    # Raised by services (each by one domain error class).
    LAST_OWNER = "last_owner"
    ALREADY_MEMBER = "already_member"
    INVITATION_INVALID = "invitation_invalid"
    BILLING_DISABLED = "billing_disabled"
    STRIPE_UNAVAILABLE = "stripe_unavailable"
    STRIPE_ERROR = "stripe_error"
    INVALID_SIGNATURE = "invalid_signature"
    SLUG_TAKEN = "slug_taken"
    INSUFFICIENT_STOCK = "insufficient_stock"
    ORDER_STATE_CONFLICT = "order_state_conflict"
    CUSTOMER_EMAIL_TAKEN = "customer_email_taken"
    ROLE_ABOVE_OWN = "role_above_own"
    API_KEY_REVOKED = "api_key_revoked"
    API_KEY_NOT_ALLOWED = "api_key_not_allowed"
    # Support access (ADR 0024).
    SUPPORT_READ_ONLY = "support_read_only"
    SUPPORT_NOT_ALLOWED = "support_not_allowed"
    SUPPORT_ACCESS_ENDED = "support_access_ended"
    SUPPORT_PERMISSION_REQUIRED = "support_permission_required"
    SUPPORT_DISABLED_BY_TENANT = "support_disabled_by_tenant"
    SUPPORT_TARGET_NOT_ALLOWED = "support_target_not_allowed"
    SUPPORT_TENANT_UNAVAILABLE = "support_tenant_unavailable"
    SUPPORT_REASON_REQUIRED = "support_reason_required"


class Message:
    MALFORMED_JSON = "The request body is not valid JSON."
    VALIDATION_ERROR = "The request is invalid; see fields."
    NOT_A_MEMBER = "You are not an active member of this organisation."
    TENANT_SUSPENDED = "This organisation is read-only until its billing is resolved."
    SUBDOMAIN_TAKEN = "That subdomain is already taken."
    EMAIL_REGISTERED = (
        "An account with this email already exists; sign up with its password to reuse it."
    )
    PAYLOAD_TOO_LARGE = "The request body is too large."
    TOKEN_OTHER_TENANT = "This token was not issued for this organisation."  # noqa: S105
    DATABASE_UNAVAILABLE = "The database is busy or unavailable; retry shortly."
    MFA_REQUIRED = "This account uses two-factor authentication: send the current code as otp."
    MFA_INVALID = "The two-factor code is wrong, expired or already used."
    MFA_ALREADY_ENABLED = "Two-factor authentication is already on; turn it off first."
    MFA_NOT_ENABLED = "Two-factor authentication is not on for this account."
    MFA_SETUP_NOT_STARTED = "Start the set-up first (POST me/mfa/totp/), then confirm its code."
    INVALID_TOKEN = "This link or token is unknown, used or expired."  # noqa: S105
    TOKEN_REVOKED = "This token was revoked (the password changed)."  # noqa: S105
    STORAGE_UNAVAILABLE = "File storage is unavailable right now; try again in a minute."


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


class TesseraError(Exception):
    """Base of every error a service raises on purpose. Mapped to JSON in one handler."""

    code = ErrorCode.CONFLICT
    http_status = 400
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, fields: dict[str, Any] | None = None):
        self.message = message or self.message
        self.fields = fields or {}
        super().__init__(self.message)


class ValidationFailed(TesseraError):
    code = ErrorCode.VALIDATION_ERROR
    http_status = 400
    message = Message.VALIDATION_ERROR


class Conflict(TesseraError):
    code = ErrorCode.CONFLICT
    http_status = 409


class SubdomainTaken(Conflict):
    code = ErrorCode.SUBDOMAIN_TAKEN
    message = Message.SUBDOMAIN_TAKEN


class EmailRegistered(Conflict):
    code = ErrorCode.EMAIL_REGISTERED
    message = Message.EMAIL_REGISTERED


class TenantSuspended(TesseraError):
    code = ErrorCode.TENANT_SUSPENDED
    http_status = 402
    message = Message.TENANT_SUSPENDED


class NotAMember(TesseraError):
    code = ErrorCode.NOT_A_MEMBER
    http_status = 403
    message = Message.NOT_A_MEMBER


class RoleRequired(TesseraError):
    """The member's role is below what the action needs."""

    code = ErrorCode.PERMISSION_DENIED
    http_status = 403

    def __init__(self, needed_label: str):
        super().__init__(f"This action needs the {needed_label} role or higher.")


class MfaRequired(TesseraError):
    code = ErrorCode.MFA_REQUIRED
    http_status = 401
    message = Message.MFA_REQUIRED


class MfaInvalid(TesseraError):
    code = ErrorCode.MFA_INVALID
    http_status = 401
    message = Message.MFA_INVALID


class MfaConflict(TesseraError):
    code = ErrorCode.MFA_ALREADY_ENABLED
    http_status = 409
    message = Message.MFA_ALREADY_ENABLED


class InvalidToken(TesseraError):
    code = ErrorCode.INVALID_TOKEN
    http_status = 400
    message = Message.INVALID_TOKEN


class PlanLimitExceeded(TesseraError):
    code = ErrorCode.PLAN_LIMIT_EXCEEDED
    http_status = 402
    message = "Your plan's limit is reached; upgrade to add more."


class StorageUnavailable(TesseraError):
    """The file store (S3, or the local disk) failed or did not answer in time."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    http_status = 503
    message = Message.STORAGE_UNAVAILABLE


class FeatureNotInPlan(TesseraError):
    """The tenant's plan does not include the feature (``billing.entitlements``)."""

    code = ErrorCode.FEATURE_NOT_IN_PLAN
    http_status = 402
    message = "Your plan does not include this feature; upgrade to use it."


# Support access (ADR 0024) -------------------------------------------------------------


class SupportReadOnly(TesseraError):
    code = ErrorCode.SUPPORT_READ_ONLY
    http_status = 403
    message = (
        "Support access is read-only: nothing can be changed in this session "
        "(start one with writes allowed and a reason)."
    )


class SupportNotAllowed(TesseraError):
    """The member's own credentials (password, email, MFA, API keys, tokens)."""

    code = ErrorCode.SUPPORT_NOT_ALLOWED
    http_status = 403
    message = (
        "Not during support access: the member's password, email, two-factor "
        "authentication, API keys and tokens are theirs alone."
    )


class SupportAccessEnded(TesseraError):
    code = ErrorCode.SUPPORT_ACCESS_ENDED
    http_status = 401
    message = "Support access has ended; this session is signed out."


class SupportRefused(TesseraError):
    """Support access cannot start (each reason has its own code)."""

    http_status = 403


class SupportPermissionRequired(SupportRefused):
    code = ErrorCode.SUPPORT_PERMISSION_REQUIRED
    message = "Support access needs the support permission (a platform admin's)."


class SupportDisabledByTenant(SupportRefused):
    code = ErrorCode.SUPPORT_DISABLED_BY_TENANT
    message = "This organisation has turned support access off in its settings."


class SupportTargetNotAllowed(SupportRefused):
    code = ErrorCode.SUPPORT_TARGET_NOT_ALLOWED
    message = "Support access is only for active members who are not platform admins."


class SupportTenantUnavailable(SupportRefused):
    code = ErrorCode.SUPPORT_TENANT_UNAVAILABLE
    http_status = 409
    message = "This organisation is being deleted; support access is not possible."


class SupportReasonRequired(SupportRefused):
    code = ErrorCode.SUPPORT_REASON_REQUIRED
    http_status = 400
    message = "Allowing writes needs a written reason."
