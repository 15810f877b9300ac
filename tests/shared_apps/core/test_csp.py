"""The CSP middleware with the policy built once writes django-csp's headers."""

from __future__ import annotations

import pytest
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from shared_apps.core.middleware import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _run(
    middleware_class, *, path="/api/v1/products/", status=200, response_attrs=None, nonce=False
):
    request = RequestFactory().get(path)
    middleware = middleware_class(lambda r: HttpResponse(status=status))
    middleware.process_request(request)
    if nonce:
        str(request.csp_nonce)  # a template used the nonce
    response = HttpResponse(status=status)
    for name, value in (response_attrs or {}).items():
        setattr(response, name, value)
    response = middleware.process_response(request, response)
    if not nonce and not (status in (404, 500) and settings.DEBUG):
        with pytest.raises(CSPNonceError):  # a nonce asked for after the header is an error
            str(request.csp_nonce)
    return {header: response.get(header) for header in HEADERS}


CASES = [
    {},
    {"status": 404},
    {"status": 500},
    {"nonce": True},
    {"response_attrs": {"_csp_update": {"img-src": ["https://img.example"]}}},
    {"response_attrs": {"_csp_replace": {"script-src": None}}},
    {"response_attrs": {"_csp_exempt": True}},
    {"response_attrs": {"_csp_config": {"default-src": ["'none'"]}}},
]


@pytest.mark.parametrize("case", CASES)
def test_same_headers_as_django_csp(case):
    ours = _run(CSPMiddleware, **case)
    assert ours == _run(DjangoCSPMiddleware, **case)
    assert ours == _run(CSPMiddleware, **case)  # and again, from the cached policy


@pytest.mark.parametrize("case", CASES[:3])
def test_a_settings_change_is_seen(case):
    _run(CSPMiddleware, **case)  # the policy cached
    report_only = {
        "DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-report/"},
        "EXCLUDE_URL_PREFIXES": ["/admin/"],
    }
    changed = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'none'"]}
    }
    with override_settings(
        CONTENT_SECURITY_POLICY=changed, CONTENT_SECURITY_POLICY_REPORT_ONLY=report_only
    ):
        for path in ("/api/v1/products/", "/admin/login/"):
            ours = _run(CSPMiddleware, path=path, **case)
            assert ours == _run(DjangoCSPMiddleware, path=path, **case)
        assert "img-src 'none'" in _run(CSPMiddleware, **case)[HEADERS[0]]
    assert _run(CSPMiddleware, **case) == _run(DjangoCSPMiddleware, **case)
