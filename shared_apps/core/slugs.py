"""Unique slugs for tenant-scoped models."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.text import slugify


def unique_slug(model: type[models.Model], text: str, *, max_length: int = 120) -> str:
    base = slugify(text)[: max_length - 9].strip("-") or "item"
    candidate = base
    while model._default_manager.filter(slug=candidate).exists():
        candidate = f"{base}-{uuid.uuid4().hex[:8]}"
    return candidate
