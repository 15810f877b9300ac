"""`make bench` only: the ceiling server (``tests.benchmarks.ceiling``).

A plain Django project around the catalog's models: the production settings' secrets,
database and cache, but only the apps the view needs (no DRF, allauth or tenancy), no
middleware, no database router, Django's own PostgreSQL backend with the session's
search_path fixed to ``BENCH_TENANT_SCHEMA`` at connect, and one URLconf: the
plain-Django view returning the products list's 20 rows. Never deploy this.
"""

from tests.benchmarks.settings.notenancy import *  # noqa: F403
from tests.benchmarks.settings.notenancy import DATABASES

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "tests.benchmarks.ceiling_app.CeilingCatalogConfig",
]
MIDDLEWARE: list[str] = []
DATABASE_ROUTERS: list[str] = []
ROOT_URLCONF = "tests.benchmarks.ceiling"
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
