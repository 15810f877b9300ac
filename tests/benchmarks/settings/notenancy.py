"""`make bench` only: the production settings with tenancy switched off.

The routing middleware is replaced by one that hands every request the same preloaded
tenant (``BENCH_TENANT_SCHEMA``) with no host lookup and no per-request schema switch
(tests/benchmarks/notenancy.py), and every host is served the tenant URLconf. Same
application, data and server otherwise: the baseline of the requests/s and latency
figures. Never deploy this.
"""

import os

from config.settings.production import *  # noqa: F403
from config.settings.production import DATABASES, MIDDLEWARE

MIDDLEWARE = [
    "tests.benchmarks.notenancy.PreloadedTenantMiddleware"
    if name == "tenants.middleware.TenantRoutingMiddleware"
    else name
    for name in MIDDLEWARE
]
ROOT_URLCONF = "config.urls_tenant"
# No routing at all: the session's search_path is the tenant's from the start
# (tests/benchmarks/notenancy_backend), as in a single-tenant application.
DATABASES["default"]["ENGINE"] = "tests.benchmarks.notenancy_backend"
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c search_path={os.environ['BENCH_TENANT_SCHEMA']},public"
)
