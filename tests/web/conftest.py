"""Fixtures of the web-app page tests: Django test clients signed in on a tenant host."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.support import TenantWorld, session_client


@pytest.fixture
def page_client(alpha):
    """``page_client(role)``: a client on alpha's host with a session of alpha's ``role``."""

    def make(role: str = "owner", world: TenantWorld | None = None):
        world = world or alpha
        return session_client(world, world.user(role))

    return make


@pytest.fixture
def in_tenant():
    """``with in_tenant(world):`` runs the block in that tenant's schema."""
    import contextlib

    @contextlib.contextmanager
    def enter(world: TenantWorld):
        connection.set_tenant(world.tenant)
        try:
            yield world.tenant
        finally:
            connection.set_schema_to_public()

    return enter
