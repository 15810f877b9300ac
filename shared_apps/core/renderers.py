"""The API's JSON renderer: orjson (through ``drf-orjson-renderer``), DRF's bytes.

Rendering a 20-row list with DRF's ``JSONRenderer`` (the standard library's encoder,
plus DRF's ``default`` for every non-JSON value) is replaced by ``orjson``, written in
Rust, through the maintained ``drf_orjson_renderer`` package. The output stays what
DRF's renderer writes, byte for byte -- the SPEC §4 error JSON included:

* compact separators and UTF-8 (DRF's ``COMPACT_JSON`` and ``UNICODE_JSON``), as orjson
  writes anyway;
* every value orjson would write its own way goes to DRF's own encoder instead:
  datetimes (``...Z``, not ``...+00:00``), and everything orjson does not know (lazy
  translations, ``Decimal`` as DRF writes it, querysets, ...); non-string dict keys as
  the standard library writes them;
* U+2028 and U+2029 escaped, as DRF does (JSON stays a strict JavaScript subset);
* a client asking for ``application/json; indent=N``, or data orjson cannot write (an
  integer past 64 bits), gets DRF's renderer itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from drf_orjson_renderer.renderers import ORJSONRenderer
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf_default = JSONEncoder().default
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_LINE_SEPARATORS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")


class TesseraJSONRenderer(ORJSONRenderer):
    format = "json"
    media_type = "application/json"
    charset = None
    _fallback = JSONRenderer()

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        context = renderer_context or {}
        if self._fallback.get_indent(accepted_media_type or "", context) is not None:
            return self._fallback.render(data, accepted_media_type, context)
        try:
            rendered = orjson.dumps(data, default=_drf_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return self._fallback.render(data, accepted_media_type, context)
        if b"\xe2\x80" in rendered:
            for raw in _LINE_SEPARATORS:
                rendered = rendered.replace(raw, raw.decode().encode("unicode_escape"))
        return rendered
