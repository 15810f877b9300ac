"""Template helpers of the web app's forms (accessible errors)."""

from __future__ import annotations

from django import template
from django.forms import BoundField

register = template.Library()


@register.simple_tag
def widget(field: BoundField, **attrs: str | bool):
    """The field's input, pointing at its help text and its errors (``aria-describedby``)
    so a screen reader announces them; ``aria-invalid`` comes from Django."""
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    if field.errors:
        described.append(f"{field.auto_id}_error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def cents(value: int | None) -> str:
    """A price in cents as ``12.00``."""
    if value is None:
        return ""
    return f"{value / 100:,.2f}"
