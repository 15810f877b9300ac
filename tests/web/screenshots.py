"""Screenshots of every page of the web app, for docs/screenshots/ (not a test).

Run against a running demo (``make run``, or any server on the seeded development
database), from the repository root:

    .venv/bin/python -m tests.web.screenshots --base http://localhost:8000

It signs in as the demo owner of acme by creating a session in acme's schema (the
same thing a login does) and saves one PNG per page at 1280 px, plus the dashboard at
375 px. Needs Debian's chromium.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
PAGES = [
    ("dashboard", "/"),
    ("products", "/app/products/"),
    ("product-form", "/app/products/new/"),
    ("customers", "/app/customers/"),
    ("orders", "/app/orders/"),
    ("order-create", "/app/orders/new/"),
    ("order-detail", None),  # the newest order, found below
    ("exports", "/app/exports/"),
    ("team", "/app/team/"),
    ("billing", "/app/billing/"),
    ("settings", "/app/settings/"),
]


def session_cookie(subdomain: str, email: str) -> tuple[str, int]:
    """A session key for ``email`` in the tenant's schema, and the newest order's id."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_tenants.utils import tenant_context

    from shared_apps.accounts.models import User
    from tenant_apps.orders.models import Order
    from tenants.models import Tenant

    tenant = Tenant.objects.get(subdomain=subdomain)
    user = User.objects.get(email=email)
    with tenant_context(tenant):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        newest = Order.objects.order_by("-created", "-id").values_list("pk", flat=True).first()
    return session.session_key or "", newest or 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://localhost:8000")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--email", default="owner@acme.example")
    args = parser.parse_args()
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    key, newest_order = session_cookie(args.tenant, args.email)
    base = urlsplit(args.base)
    origin = f"{base.scheme}://{args.tenant}.{base.hostname}:{base.port or 80}"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            for width, suffix, pages in ((1280, "", PAGES), (375, "-375", PAGES[:1] + PAGES[5:6])):
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.add_cookies([{"name": "sessionid", "value": key, "url": origin + "/"}])
                page = context.new_page()
                for name, path in pages:
                    path = path or f"/app/orders/{newest_order}/"
                    response = page.goto(origin + path)
                    assert response is not None and response.ok, (
                        path,
                        response and response.status,
                    )
                    page.screenshot(path=str(OUT / f"{name}{suffix}.png"), full_page=True)
                    print(OUT / f"{name}{suffix}.png")
                context.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main()
