"""`make bench` only: settings of the benchmark's helper processes.

The test settings on the benchmark's throw-away database (``BENCH_DATABASE_NAME``,
default ``tessera_bench``), with the deployed password hashing (sign-up pays for it), and
optionally one generated tenant app appended to the tenant apps
(``BENCH_EXTRA_TENANT_APP``: the 50 no-op migrations of the provisioning figure).
"""

from config.settings import base
from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES, INSTALLED_APPS, TENANT_APPS, env

DATABASES = {  # a copy: the test settings' own dict stays as it is
    **DATABASES,
    "default": {
        **DATABASES["default"],
        "NAME": env("BENCH_DATABASE_NAME", default="tessera_bench"),
    },
}
PASSWORD_HASHERS = list(base.PASSWORD_HASHERS)  # the deployed ones, not the tests' MD5

_extra_app = env("BENCH_EXTRA_TENANT_APP", default="")
if _extra_app:
    TENANT_APPS = [*TENANT_APPS, _extra_app]
    INSTALLED_APPS = [*INSTALLED_APPS, _extra_app]
