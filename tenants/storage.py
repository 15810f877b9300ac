"""Files per tenant: their paths, and the store behind them (local disk or S3).

Every file of a tenant lives under ``tenants/<schema>/<area>/...``; the prefix comes from
the active tenant, never from input, and a name outside it is refused when it is read
(:func:`is_tenant_path`). The store is Django's default storage: ``FileSystemStorage``
under ``MEDIA_ROOT`` in development, :class:`TenantFileS3Storage` (django-storages) when
``STORAGE_BUCKET`` is set (``config/settings/base.py``, ADR 0016).

Downloads from S3 are short-lived presigned URLs (:func:`download_url`) that the
member-only API hands out as a redirect; the local disk has no such URL, so the app
streams the file itself. Failures of the store surface as :class:`StorageUnavailable`
(a 503 with a code), never as the store's own exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from shared_apps.core.errors import StorageUnavailable
from tenants.context import current_tenant

logger = logging.getLogger(__name__)

_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ROOT = "tenants"
# S3 object tag naming a file's area (``exports``, ``final``): the bucket's lifecycle
# rule expires the ``exports`` area (terraform/modules/storage). S3 lifecycle filters
# match a key prefix or a tag, and the area is not a prefix of the key (the tenant is).
AREA_TAG = "tessera-area"
# What the file store raises when it cannot do its job: botocore's errors for S3
# (connection refused, timeouts, 5xx after retries, a missing bucket, access denied),
# OSError for the local disk.
STORE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, OSError)


def tenant_path(*parts: str) -> str:
    """``tenants/<schema>/<parts...>`` for the active tenant. Parts must be plain names."""
    for part in parts:
        if not _SAFE_PART.fullmatch(part) or ".." in part:
            raise ValueError(f"unsafe path part: {part!r}")
    return "/".join((ROOT, current_tenant().schema_name, *parts))


def tenant_prefix() -> str:
    """``tenants/<schema>/`` of the active tenant: every name it may read starts so."""
    return f"{ROOT}/{current_tenant().schema_name}/"


def is_tenant_path(name: str) -> bool:
    """Whether ``name`` is a plain file name under the active tenant's own prefix."""
    prefix = tenant_prefix()
    if not name.startswith(prefix):
        return False
    parts = name[len(prefix) :].split("/")
    return all(_SAFE_PART.fullmatch(part) and ".." not in part for part in parts)


def file_area(name: str) -> str | None:
    """The area of a tenant file name (``tenants/<schema>/<area>/...``), or None."""
    parts = name.split("/")
    return parts[2] if len(parts) > 3 and parts[0] == ROOT else None


@contextmanager
def store_errors(operation: str) -> Iterator[None]:
    """Turn the store's own failures into :class:`StorageUnavailable`, logged once.

    ``FileNotFoundError`` is left alone: a missing file is the caller's business.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except STORE_ERRORS as exc:
        logger.warning("file storage failed during %s: %r", operation, exc)
        raise StorageUnavailable() from exc


def download_url(name: str, *, filename: str, content_type: str) -> str | None:
    """A presigned GET URL for ``name``, valid ``STORAGE_DOWNLOAD_URL_SECONDS``, that
    makes the browser save it as ``filename``; None when the store cannot sign URLs (the
    local disk: the caller streams the file). Signing is local (no request to S3).

    Only for names the caller has checked with :func:`is_tenant_path`.
    """
    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        return None
    with store_errors("signing a download URL"):
        return storage.url(
            name,
            parameters={
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-store",
            },
            expire=settings.STORAGE_DOWNLOAD_URL_SECONDS,
        )


class TenantFileS3Storage(S3Storage):
    """django-storages' S3 backend, as Tessera uses it.

    * Bounded time: ``timeout`` seconds to connect and to read, ``max_attempts`` tries in
      botocore's standard retry mode, so an S3 outage answers a request within seconds.
    * Objects are private (no ACL: the bucket enforces owner-only access) and tagged with
      their area for the bucket's lifecycle rule.
    * ``file_overwrite`` is off, as on the local disk: a name that exists gets a suffix.

    Credentials come from boto3's usual chain (the ECS task role in AWS) unless
    ``access_key`` / ``secret_key`` are given.
    """

    def __init__(self, *, timeout: float = 5.0, max_attempts: int = 3, **options: Any):
        options.setdefault(
            "client_config",
            Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                signature_version="s3v4",
                s3={"addressing_style": options.get("addressing_style") or "auto"},
            ),
        )
        options.setdefault("file_overwrite", False)
        options.setdefault("default_acl", None)
        options.setdefault("querystring_auth", True)
        super().__init__(**options)

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = super().get_object_parameters(name)
        area = file_area(name)
        if area:
            params["Tagging"] = urlencode({AREA_TAG: area})
        return params
