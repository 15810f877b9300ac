import pytest

from tests.celery_support import wait_for
from tests.committed_worlds import committed_alpha, committed_beta
from tests.tenant_apps.integrations.receiver import WEBHOOK_TABLES, Receiver

__all__ = ["committed_alpha", "committed_beta"]  # fixtures for this package's tests


@pytest.fixture(scope="module")
def receiver():
    """A real HTTP receiver on 127.0.0.1 (port in 18510-18599) for this module."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def clean_webhooks(committed_db):
    """After the test: the session tenants' webhook, order and catalogue rows deleted, once
    no worker holds a delivery any more."""
    yield
    from django.db import connection

    connection.set_schema_to_public()
    # Stop the workers from claiming more, let attempts in flight finish, then delete.
    # DELETE, not TRUNCATE: a worker may still be finishing an attempt (row locks wait
    # for it; TRUNCATE's table locks could deadlock with it).
    schemas = ("t_alpha", "t_beta")
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f"UPDATE {schema}.integrations_webhookendpoint SET enabled = false")

        def idle() -> bool:
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT count(*) FROM {schema}.integrations_webhookdelivery"
                    " WHERE leased_until > now()"
                    for schema in schemas
                )
            )
            return not any(n for (n,) in cursor.fetchall())

        wait_for(idle, timeout=15, what="attempts in flight to finish")
        for schema in schemas:
            for table in WEBHOOK_TABLES:
                cursor.execute(f"DELETE FROM {schema}.{table}")
