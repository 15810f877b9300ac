"""The names of audit-log actions: every ``action`` an ``AuditEntry`` can have.

Services pass these, never a bare string; tests import them to assert on. Values are
stored as they are (``AuditEntry.action`` is a plain CharField), so renaming a value
changes what new entries say, not old ones.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    AUTH_LOCKOUT = "auth.lockout"
    AUTH_LOGIN = "auth.login"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOGOUT = "auth.logout"
    AUTH_MFA_DISABLED = "auth.mfa_disabled"
    AUTH_MFA_ENABLED = "auth.mfa_enabled"
    AUTH_MFA_FAILED = "auth.mfa_failed"
    AUTH_PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105 - an action name
    AUTH_PASSWORD_CHECK_FAILED = "auth.password_check_failed"  # noqa: S105 - an action name
    AUTH_PASSWORD_RESET = "auth.password_reset"  # noqa: S105 - an action name
    AUTH_RECOVERY_CODE_USED = "auth.recovery_code_used"
    CATEGORY_CREATED = "category.created"
    CATEGORY_DELETED = "category.deleted"
    CATEGORY_UPDATED = "category.updated"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_DELETED = "customer.deleted"
    CUSTOMER_UPDATED = "customer.updated"
    DATA_EXPORT_REQUESTED = "data_export.requested"
    EXPORT_REQUESTED = "export.requested"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    ORDER_CANCELED = "order.canceled"
    ORDER_CREATED = "order.created"
    ORDER_PAID = "order.paid"
    ORDER_REFUNDED = "order.refunded"
    ORGANIZATION_DELETION_CANCELED = "organization.deletion_canceled"
    ORGANIZATION_DELETION_SCHEDULED = "organization.deletion_scheduled"
    ORGANIZATION_RENAMED = "organization.renamed"
    PRODUCT_ARCHIVED = "product.archived"
    PRODUCT_CREATED = "product.created"
    PRODUCT_DELETED = "product.deleted"
    PRODUCT_UPDATED = "product.updated"
    SECURITY_MFA_REQUIREMENT_CHANGED = "security.mfa_requirement_changed"
    SUPPORT_ENDED = "support.ended"
    SUPPORT_POLICY_CHANGED = "support.policy_changed"
    SUPPORT_REFUSED = "support.refused"
    SUPPORT_STARTED = "support.started"
    SUPPORT_WRITE = "support.write"
    WEBHOOK_DELIVERY_REDELIVERED = "webhook_delivery.redelivered"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
    WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"  # noqa: S105 - an action name
    WEBHOOK_ENDPOINT_TESTED = "webhook_endpoint.tested"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
