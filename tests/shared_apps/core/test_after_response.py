"""``after_response``: queued while a request is served, run when its response closes.

Its receivers of Django's signals, called as Django calls them: the handler sends
``request_started``; the server writes the whole response, then calls its ``close()``,
which sends ``request_finished``. A real request through Django's WSGI handler is
test_webhook_delivery's ``test_the_dispatch_is_published_once_the_response_is_out``.
"""

from __future__ import annotations

import logging

from shared_apps.core.after_response import after_response, request_finished, request_started


def test_outside_a_request_it_runs_at_once():
    ran = []
    after_response(lambda: ran.append(1))
    assert ran == [1]


def test_inside_a_request_it_runs_when_the_response_is_closed():
    ran: list[str] = []
    request_started()
    after_response(lambda: ran.append("first"))
    after_response(lambda: ran.append("second"))
    assert ran == []
    request_finished()
    assert ran == ["first", "second"]
    after_response(lambda: ran.append("later"))  # the request is over: at once again
    assert ran == ["first", "second", "later"]


def test_work_of_a_response_never_closed_runs_when_the_next_request_starts():
    ran = []
    request_started()
    after_response(lambda: ran.append("orphan"))
    request_started()
    assert ran == ["orphan"]
    request_finished()
    assert ran == ["orphan"]


def test_a_failure_is_logged_and_the_rest_still_runs(caplog):
    ran = []
    request_started()

    def fail():
        raise RuntimeError("broker down")

    after_response(fail)
    after_response(lambda: ran.append("second"))
    with caplog.at_level(logging.ERROR, logger="shared_apps.core.after_response"):
        request_finished()
    assert ran == ["second"]
    assert "after-response work failed" in caplog.text and "broker down" in caplog.text
