"""The browser tests' shared parts: one Chromium and one live server per test session
(per xdist worker), a fresh BrowserContext per test.

Debian's chromium through Playwright (never ``playwright install``). Starting
Playwright's driver and Chromium takes seconds; a BrowserContext (its own cookies,
storage and cache, like a new browser profile) takes milliseconds, so every test gets
fresh contexts from the ``browser`` fixture and they are closed after it: nothing a
test did in a browser is seen by the next one.

Fixtures (import them into a test module, with ``pytestmark = browser_marks()``; the
modules need no xdist group for them, each xdist worker starts its own):

* ``browser`` a Chromium for this test. ``browser.new_context()`` / ``new_page()`` as
  Playwright's; all contexts the test opened are closed when it ends, and the pages of
  a failed test are saved to ``.local/screenshots/``. While it runs, the pages poll
  (htmx) every ``POLL_SECONDS`` instead of every second or two.
* ``live_port`` the port of a live server (Django's test server thread, static files
  served, its own database connections: it sees committed rows only) shared by the
  session; every tenant host is ``http://<subdomain>.localhost:<port>``.

``new_page(browser, **context_options)`` is a page of a new context (1280 x 900);
``signed_in_page(browser, base_url, world, role)`` is a page of a new context holding
the session cookie of ``world``'s ``role`` user, created the way a login creates it (for
tests that are not about signing in; those sign in through the form).

Playwright's sync API marks its event loop as running in this thread between its
calls (playwright/_impl/_greenlets.py ``wait_for_future``), so the ORM refuses to run
(SynchronousOnlyOperation) and ``asyncio.run`` fails. The loop is marked running only
while a test using ``browser`` runs: the tests in between, on the same xdist worker,
see no event loop. Chromium and the live server are stopped when pytest ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAILURES = Path(__file__).resolve().parent.parent / ".local" / "screenshots"
# Every host but this machine's fails to resolve, at once: a page asks nothing of the
# internet (and a test that tried would fail, not wait for a network timeout).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost,"
    " EXCLUDE 127.0.0.1",
]
# htmx polling interval of the pages while a browser test runs (the settings below;
# production's are 1 s and 2 s): a test waiting for a row to turn waits ~0.1 s more
# than the work itself, not up to 2 s.
POLL_SECONDS = 0.1
POLL_SETTINGS = ("EXPORT_POLL_SECONDS", "WEBHOOK_LOG_POLL_SECONDS")
VIEWPORT = {"width": 1280, "height": 900}
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def browser_marks() -> list[Any]:
    """A browser module's ``pytestmark``: the ``browser`` mark and a skip, with its
    reason printed, where Debian's chromium is not installed."""
    return [
        pytest.mark.browser,
        pytest.mark.skipif(
            not os.path.exists(CHROMIUM),
            reason="Debian's chromium is not installed (.ci/run installs it: "
            "apt-get install chromium)",
        ),
    ]


class _PhaseReports:
    """Keeps each phase's report on the test item (a failed test's pages are saved)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        item.stash.setdefault(_REPORTS, {})[report.when] = report
        return report


# Started by the first test that needs them, stopped when pytest ends (config cleanup):
# pytest gives every module importing a session-scoped fixture its own copy of it, so
# the fixtures below are per test and the session's processes live here.
_shared: dict[str, Any] = {}


def _session_chromium(config) -> Any:
    if "browser" not in _shared:
        from playwright.sync_api import sync_playwright

        config.pluginmanager.register(_PhaseReports(), "tessera-browser-reports")
        playwright = sync_playwright().start()
        loop = playwright._loop
        try:
            _shared["browser"] = playwright.chromium.launch(
                executable_path=CHROMIUM, args=LAUNCH_ARGS
            )
        except BaseException:
            playwright.stop()
            asyncio._set_running_loop(None)  # type: ignore[attr-defined]
            raise

        def stop() -> None:
            asyncio._set_running_loop(loop)  # type: ignore[attr-defined]
            try:
                _shared.pop("browser").close()
                playwright.stop()
            finally:
                asyncio._set_running_loop(None)  # type: ignore[attr-defined]

        _shared["loop"] = loop
        config.add_cleanup(stop)
    return _shared["browser"]


@pytest.fixture
def browser(request, monkeypatch, settings):
    """The session's Chromium, for this test: see the module docstring."""
    for name in POLL_SETTINGS:
        setattr(settings, name, POLL_SECONDS)
    # The test's own ORM calls (set-up, assertions) are plain blocking calls between
    # browser steps, in the thread where Playwright's loop is marked running.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chromium = _session_chromium(request.config)
    asyncio._set_running_loop(_shared["loop"])  # type: ignore[attr-defined]
    try:
        assert not chromium.contexts, "a context of an earlier test was left open"
        yield chromium
        report = request.node.stash.get(_REPORTS, {}).get("call")
        if report is not None and report.failed:
            _save_pages(chromium, request.node.name)
    finally:
        try:
            for context in chromium.contexts:
                context.close()
        finally:
            asyncio._set_running_loop(None)  # type: ignore[attr-defined]


def _save_pages(chromium, name: str) -> None:
    FAILURES.mkdir(parents=True, exist_ok=True)
    for index, context in enumerate(chromium.contexts):
        for number, page in enumerate(context.pages):
            path = FAILURES / f"{name}-{index}-{number}.png"
            with contextlib.suppress(Exception):  # a page that crashed has no picture
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of the failed test: {path}")


@pytest.fixture
def live_port(request, django_db_setup) -> int:
    """The port of the session's live server (on the test database)."""
    if "live_port" not in _shared:
        from tests.support import live_server

        server = live_server()
        _shared["live_port"] = server.__enter__()

        def stop() -> None:
            server.__exit__(None, None, None)
            _shared.pop("live_port")

        request.config.add_cleanup(stop)
    return _shared["live_port"]


def new_page(browser, **options):
    """A page of a new context (own cookies) at the usual viewport."""
    return browser.new_context(**{"viewport": VIEWPORT, **options}).new_page()


def session_cookie(world, user) -> str:
    """A session of ``user`` in ``world``'s schema, committed (the caller's connection
    must autocommit: ``committed_db``), as a login creates it: its key."""
    from tests.support import session_client

    return session_client(world, user).cookies["sessionid"].value


def signed_in_page(browser, base_url: str, world, role: str, **options):
    """A page of a new context holding a session of ``world``'s ``role`` user (a cookie
    on ``base_url``'s host only, as the login sets it)."""
    page = new_page(browser, **options)
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": session_cookie(world, world.user(role)),
                "url": base_url + "/",
            }
        ]
    )
    return page
