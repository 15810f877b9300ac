"""Serializer fields stricter than DRF's defaults."""

from __future__ import annotations

from rest_framework import serializers


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id that must really be an integer: ``1.9`` or ``true`` is a 400,
    never silently the object with id 1."""

    def to_internal_value(self, data):
        is_integral = (
            (isinstance(data, int) and not isinstance(data, bool))
            or (isinstance(data, float) and data.is_integer())
            or (isinstance(data, str) and data.strip().isdigit())
        )
        if not is_integral:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(int(data))
