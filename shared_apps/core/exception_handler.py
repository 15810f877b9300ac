"""The one DRF exception handler: Django, DRF and domain errors → SPEC §4 error JSON."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared_apps.core.errors import ErrorCode, Message, TesseraError, error_body

logger = logging.getLogger(__name__)

# DRF's own codes already match SPEC §4 names, except these.
_RENAMED_CODES = {"parse_error": ErrorCode.MALFORMED_JSON}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _code_for(exc: exceptions.APIException) -> str:
    if isinstance(exc.detail, dict) and "code" in exc.detail:  # simplejwt's token errors
        code = str(exc.detail["code"])
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    return _RENAMED_CODES.get(code, code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, TesseraError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(ErrorCode.PAYLOAD_TOO_LARGE, Message.PAYLOAD_TOO_LARGE),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and answer 500 (handler500 is JSON)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(
            ErrorCode.VALIDATION_ERROR, Message.VALIDATION_ERROR, _flatten(detail)
        )
        return response

    if not isinstance(exc, exceptions.APIException):  # pragma: no cover - DRF handles only these
        return response
    raw: Any = exc.detail
    message = str(raw.get("detail", raw)) if isinstance(raw, dict) else str(raw)
    if isinstance(exc, exceptions.ParseError):
        message = Message.MALFORMED_JSON
    response.data = error_body(_code_for(exc), message)
    return response


def json_error_response(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)
