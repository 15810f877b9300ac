"""The session tenants for tests that commit (conftest's ``committed_db``, no ``db``).

Conftest's ``alpha`` and ``beta`` need ``db`` (each test in a transaction rolled back);
a test whose rows another process must see (a Celery worker, the live server behind a
browser) commits instead, and takes these. Import them into a test module under the
name it uses::

    from tests.committed_worlds import committed_alpha, committed_beta
    from tests.committed_worlds import committed_alpha as alpha  # the module's "alpha"

(pytest registers an imported fixture under the name it has in the module.) Such a test
cleans up what it commits.
"""

from __future__ import annotations

import pytest

from tests.support import TenantWorld, session_world


@pytest.fixture
def committed_alpha(committed_db) -> TenantWorld:
    return session_world("alpha")


@pytest.fixture
def committed_beta(committed_db) -> TenantWorld:
    return session_world("beta")
