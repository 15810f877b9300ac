"""File paths per tenant. The prefix comes from the active tenant, never from input."""

from __future__ import annotations

import re

from tenants.context import current_tenant

_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def tenant_path(*parts: str) -> str:
    """``tenants/<schema>/<parts...>`` for the active tenant. Parts must be plain names."""
    for part in parts:
        if not _SAFE_PART.fullmatch(part) or ".." in part:
            raise ValueError(f"unsafe path part: {part!r}")
    return "/".join(("tenants", current_tenant().schema_name, *parts))
