"""Password-reset tokens bound to one tenant host.

Django's token is an HMAC over the user's id, password hash, last login and a timestamp:
it stops working once the password changes (single use) and after
``PASSWORD_RESET_TIMEOUT``. We add the user's email and the schema of the tenant whose
host issued it, so a link mailed by alpha's host is refused on beta's host even for a
person who belongs to both.
"""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection


def _current_schema() -> str:
    return getattr(connection, "schema_name", "") or "public"


class TenantPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "tessera.accounts.tokens.TenantPasswordResetTokenGenerator"

    def _make_hash_value(self, user, timestamp) -> str:
        return f"{super()._make_hash_value(user, timestamp)}|{user.email}|{_current_schema()}"


password_reset_tokens = TenantPasswordResetTokenGenerator()
