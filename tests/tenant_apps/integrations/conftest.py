import pytest

from tests.tenant_apps.integrations.receiver import Receiver


@pytest.fixture(scope="module")
def receiver():
    """A real HTTP receiver on 127.0.0.1 (port in 18510-18599) for this module."""
    server = Receiver().start()
    yield server
    server.stop()
