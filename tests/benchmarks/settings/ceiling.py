"""`make bench` only: the ceiling server (``tests.benchmarks.ceiling``).

The no-tenancy baseline's settings (production settings, the session's search_path fixed
to ``BENCH_TENANT_SCHEMA`` at connect) with no middleware at all and one URLconf: the
plain-Django view returning the products list's 20 rows. Never deploy this.
"""

from tests.benchmarks.settings.notenancy import *  # noqa: F403

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.benchmarks.ceiling"
