"""tenant_apps/audit/services.py: what an audit entry stores of the values it is given."""

from __future__ import annotations

import datetime
from decimal import Decimal

from tenant_apps.audit.services import audit_record
from tests.factories import CategoryFactory


def test_changes_are_stored_as_json_whatever_their_python_types(in_alpha):
    category = CategoryFactory()
    when = datetime.datetime(2026, 11, 21, 9, 30, tzinfo=datetime.UTC)
    entry = audit_record(
        acting_user=None,
        action="probe.recorded",
        target=category,
        changes={
            "price": Decimal("9.90"),
            "tags": ("a", Decimal("1.5")),
            "items": [{"category": category}],
            "at": when,
            "count": 3,
        },
    )
    entry.refresh_from_db()
    assert entry.changes == {
        "price": "9.90",
        "tags": ["a", "1.5"],
        "items": [{"category": category.pk}],
        "at": "2026-11-21T09:30:00+00:00",
        "count": 3,
    }
    assert (entry.object_type, entry.object_id, entry.actor_id) == (
        "catalog.category",
        str(category.pk),
        None,
    )
