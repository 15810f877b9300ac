"""Subdomain rules (SPEC §3) and the server-side derivation of schema names."""

from __future__ import annotations

import hashlib
import re

from django.conf import settings

SUBDOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SCHEMA_NAME_MAX = 63


class SubdomainProblem:
    FORMAT = (
        "Use 3-63 lower-case letters, digits and hyphens, starting with a letter "
        "and not ending with a hyphen."
    )
    RESERVED = "That subdomain is reserved."


def subdomain_problem(subdomain: str) -> str | None:
    """Why ``subdomain`` cannot be used (format or reserved word), or None if it can."""
    if not isinstance(subdomain, str) or not SUBDOMAIN_RE.fullmatch(subdomain):
        return SubdomainProblem.FORMAT
    if subdomain in settings.RESERVED_SUBDOMAINS:
        return SubdomainProblem.RESERVED
    return None


def schema_name_for(subdomain: str, *, attempt: int = 0) -> str:
    """The schema name for a new tenant on ``subdomain``. Injective and always valid.

    Short names map one to one: ``t_`` + the subdomain with ``-`` → ``_`` (subdomains
    have no ``_``, so the map is reversible). Names that would exceed 63 characters,
    and retries after a collision (``attempt`` > 0, e.g. an old schema kept the name
    after its tenant moved subdomain), use the ``h_`` prefix with a truncated stem and
    a 64-bit hash, so the two families never overlap and ``pg_``/``public`` and spare
    schema names (``spare_``) are unreachable.
    """
    if not SUBDOMAIN_RE.fullmatch(subdomain):
        raise ValueError(f"not a valid subdomain: {subdomain!r}")
    stem = subdomain.replace("-", "_")
    direct = f"t_{stem}"
    if attempt == 0 and len(direct) <= SCHEMA_NAME_MAX:
        return direct
    digest = hashlib.sha256(f"{subdomain}\x00{attempt}".encode()).hexdigest()[:16]
    return f"h_{stem[: SCHEMA_NAME_MAX - 2 - 1 - 16]}_{digest}"


def tenant_host(subdomain: str) -> str:
    return f"{subdomain}.{settings.ROOT_DOMAIN}"
