"""The orjson renderer writes exactly the bytes DRF's JSONRenderer writes."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from shared_apps.core.errors import ErrorCode, error_body
from shared_apps.core.renderers import TesseraJSONRenderer

UTC = datetime.UTC
PAYLOADS = [
    error_body(ErrorCode.VALIDATION_ERROR, "Invalid input.", {"price": ["Too low."]}),
    error_body(ErrorCode.NOT_A_MEMBER, gettext_lazy("You are not an active member.")),
    {"results": [{"id": 1, "price": "9.99", "name": "Ünïcødé ✓", "n": None, "ok": True}]},
    {"when": datetime.datetime(2026, 12, 1, 12, 30, 5, 123456, tzinfo=UTC)},
    {"when": datetime.datetime(2026, 12, 1, 12, 30, 5, tzinfo=datetime.UTC)},
    {"naive": datetime.datetime(2026, 12, 1, 12, 30), "day": datetime.date(2026, 12, 1)},
    {"at": datetime.time(9, 15), "took": datetime.timedelta(seconds=90)},
    {"raw_decimal": Decimal("12.50"), "id": uuid.UUID(int=7), "float": 0.1},
    {"separators": "a\u2028b\u2029c", "quote": '"\\/</script>'},
    {1: "int key", "nested": {"list": [1, 2.5, [], {}], "tuple": (1, 2)}},
    ReturnDict({"a": ReturnList([1, 2], serializer=None)}, serializer=None),
    [],
    "plain",
    {"big": 2**70},
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_same_bytes_as_drf(data):
    assert TesseraJSONRenderer().render(data) == JSONRenderer().render(data)


def test_an_indent_asked_for_is_drfs_indent():
    data = {"a": [1, 2]}
    media = "application/json; indent=4"
    assert TesseraJSONRenderer().render(data, media, {}) == JSONRenderer().render(data, media, {})


def test_nothing_renders_as_nothing():
    assert TesseraJSONRenderer().render(None) == b""


def test_the_api_answers_with_it(owner_client):
    from rest_framework.settings import api_settings

    assert [TesseraJSONRenderer] == api_settings.DEFAULT_RENDERER_CLASSES
    response = owner_client.get("/api/v1/products/?status=bogus")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(response.json())
