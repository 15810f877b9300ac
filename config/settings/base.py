"""Settings shared by every environment. Environment files override only what differs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
LOCAL_DIR = BASE_DIR / ".local"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key-change-me-" + "x" * 20)
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Tenancy ------------------------------------------------------------------------------
ROOT_DOMAIN = env("ROOT_DOMAIN", default="localhost").lower()
# Host validation is done by tenants.middleware against the Domain table (custom
# domains are data, not configuration): an unknown Host gets a 404 there.
ALLOWED_HOSTS = ["*"]
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Our backend issues the search_path once per transaction (see tenants/postgresql_backend).
TENANT_LIMIT_SET_CALLS = True
TENANT_RESOLUTION_CACHE_SIZE = env.int("TENANT_RESOLUTION_CACHE_SIZE", default=10_000)
TENANT_SPARE_SCHEMAS = env.int("TENANT_SPARE_SCHEMAS", default=3)
TENANT_TRIAL_DAYS = env.int("TENANT_TRIAL_DAYS", default=14)
RESERVED_SUBDOMAINS = frozenset(
    [
        *env.list("RESERVED_SUBDOMAINS", default=[]),
        "www",
        "admin",
        "api",
        "app",
        "static",
        "media",
        "mail",
        "billing",
        "public",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ns1",
        "ns2",
        "dns",
        "mx",
        "status",
        "help",
        "support",
        "docs",
        "blog",
        "dashboard",
        "assets",
        "cdn",
        "auth",
        "login",
        "signup",
        "account",
        "accounts",
        "root",
        "system",
        "internal",
        "dev",
        "staging",
        "test",
        "demo",
        "webhooks",
        "stripe",
        "information-schema",
    ]
)

SHARED_APPS = [
    # Before django_tenants: our create_tenant command and the stock admin templates win
    # over django_tenants' versions (its admin index assumes request.tenant on public).
    "tenants",
    "shared_apps.core.admin_site.PlatformAdminConfig",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shared_apps.core",
    "shared_apps.accounts",
    # django-allauth (ADR 0018): its tables (email addresses, MFA authenticators) are
    # global like the users they belong to; no django.contrib.sites (see below).
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "shared_apps.organizations",
    # Its concrete APIKey model is unused (tenant_apps.integrations.ApiKey subclasses the
    # abstract one per tenant schema); the app must be installed for its models to load.
    "rest_framework_api_key",
    "djstripe",  # public schema only: Stripe mirrors are platform data, not tenant data
    "billing",
    "tenants.data",  # a tenant's data, out and gone (public schema: outlives the tenant)
    "tenants.background",  # tenant tasks, fan-out runs, run_for_tenants (ADR 0006, 0027)
]
# Sessions live in every tenant schema as well as public: a session cookie issued on
# one host names a row that simply does not exist in any other tenant's schema.
TENANT_APPS = [
    "django.contrib.sessions",
    "tenant_apps.audit",
    "tenant_apps.catalog",
    "tenant_apps.orders",
    "tenant_apps.exports",
    "tenant_apps.integrations",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    # First: X-Request-ID in and out, and the log/Sentry context, for every response.
    "shared_apps.core.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "shared_apps.core.middleware.CSPMiddleware",  # django-csp's, the header built once
    # Health checks and static files answer on any host, before (and without) routing.
    "shared_apps.core.middleware.HealthCheckMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After routing and authentication: allauth's request context needs the tenant's
    # schema active and request.user; then the MFA / email-verification gates.
    "allauth.account.middleware.AccountMiddleware",
    "shared_apps.accounts.middleware.AccountGatesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shared_apps.accounts.context_processors.account_state",
                "shared_apps.accounts.context_processors.mfa_requirement",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# Database and Redis -------------------------------------------------------------------
DATABASE_ENGINE = "tenants.postgresql_backend"
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)
# New connections are retried this long while PostgreSQL restarts or fails over (see
# tenants/postgresql_backend); 0 fails at once.
DATABASE_CONNECT_RETRY_SECONDS = env.float("DATABASE_CONNECT_RETRY_SECONDS", default=5.0)


def database_from_url(url: str) -> dict:
    config = env.db_url_config(url)
    config["ENGINE"] = DATABASE_ENGINE
    return config


def finish_database(config: dict) -> dict:
    config.setdefault("ENGINE", DATABASE_ENGINE)
    config["CONN_MAX_AGE"] = CONN_MAX_AGE
    config["CONN_HEALTH_CHECKS"] = True
    # Transaction-pooler safe whether or not a pooler is in front (ADR 0014): no
    # server-side cursors (a named cursor lives in one server session; .iterator() then
    # reads client-side), no server-side prepared statements (Django's default, stated).
    config["DISABLE_SERVER_SIDE_CURSORS"] = True
    config.setdefault("OPTIONS", {}).setdefault("prepare_threshold", None)
    return config


# Read replicas (issue 12, ADR 0015) ------------------------------------------------------
# DATABASE_REPLICA_URL (optional): a streaming replica of DATABASE_URL. Tenant reads of safe
# requests go there (tenants/replicas.py) unless the client wrote within
# REPLICA_STICKY_SECONDS or the replica lags more than REPLICA_MAX_LAG_SECONDS or is down;
# writes, the admin, tasks and commands always use the primary. Unset: one database.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=2.0)
REPLICA_STICKY_SECONDS = env.float("REPLICA_STICKY_SECONDS", default=5.0)
# How often a process checks the replica's lag (and retries one that was down); the tests
# set it lower so that a lagging or returning replica is noticed in a fraction of a second.
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
DATABASE_ROUTERS = ["tenants.replicas.ReplicaRouter", *DATABASE_ROUTERS]


def with_replica(databases: dict, replica_url: str = DATABASE_REPLICA_URL) -> dict:
    """``databases`` plus the ``replica`` alias when a replica URL is given: the same
    backend and options as the primary, never migrated, mirrored in tests, and quick to
    give up connecting (the primary serves while it is away)."""
    if not replica_url:
        return databases
    replica = finish_database(database_from_url(replica_url))
    replica["CONNECT_RETRY_SECONDS"] = 0
    replica["OPTIONS"].setdefault("connect_timeout", 2)
    replica["TEST"] = {"MIRROR": "default"}
    return {**databases, "replica": replica}


def cache_settings(redis_url: str) -> dict:
    return {
        "default": {
            "BACKEND": "shared_apps.core.cache.RedisCache",
            "LOCATION": redis_url,
            # Every key carries the schema of the active tenant (tenancy in one place).
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
        # Keys shared by every tenant, with no schema prefix (login lockout counts per
        # account and per client address across all hosts).
        "shared": {
            "BACKEND": "shared_apps.core.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "shared",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }


def celery_broker_url(redis_url: str) -> str:
    # kombu spells a Unix-socket Redis URL as redis+socket://
    return redis_url.replace("unix://", "redis+socket://", 1)


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Accounts ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Argon2id first (ADR 0029): memory-hard, the hasher Django and OWASP recommend. The
# PBKDF2 hashers stay to verify passwords set before; Django re-hashes such a password
# with Argon2 at its owner's next successful login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
DJANGO_ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

# Sessions and cookies: host-only (no SESSION_COOKIE_DOMAIN), so a cookie set on one
# tenant host is never sent to another.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Accounts: django-allauth (ADR 0018) ----------------------------------------------------
# allauth runs without django.contrib.sites: account and mfa only ask for the "current
# site" through django.contrib.sites.shortcuts.get_current_site, which falls back to the
# request's host (RequestSite). A Site row per tenant host would be wrong (hosts are data).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
ACCOUNT_ADAPTER = "shared_apps.accounts.adapter.TenantAccountAdapter"
MFA_ADAPTER = "shared_apps.accounts.adapter.TenantMFAAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email"
ACCOUNT_UNIQUE_EMAIL = True
# One address per user, the login: the email page shows its status and resends the link.
ACCOUNT_CHANGE_EMAIL = False
ACCOUNT_MAX_EMAIL_ADDRESSES = 1
# Logging in does not wait for verification: the grace period below is ours.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_CONFIRM_EMAIL_ON_GET = True  # verification is one click
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True  # stateless keys: nothing secret stored
EMAIL_VERIFICATION_GRACE_DAYS = env.int("EMAIL_VERIFICATION_GRACE_DAYS", default=7)
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = max(EMAIL_VERIFICATION_GRACE_DAYS, 1)
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "/accounts/email/"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # never mail an address that has no account here
ACCOUNT_EMAIL_NOTIFICATIONS = True  # password changed / reset, MFA on / off
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
# The current session survives a password change; every other session of the user (on
# every tenant host) dies because Django's session auth hash follows the password.
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = (
    "shared_apps.accounts.tokens.TenantPasswordResetTokenGenerator"  # noqa: S105 - a class path
)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
ACCOUNT_FORMS = {
    "reset_password": "shared_apps.accounts.forms.TenantResetPasswordForm",
    "change_password": "shared_apps.accounts.forms.LockedChangePasswordForm",
}
MFA_FORMS = {
    "authenticate": "shared_apps.accounts.forms.LockedAuthenticateForm",
    "reauthenticate": "shared_apps.accounts.forms.LockedReauthenticateForm",
    "activate_totp": "shared_apps.accounts.forms.LockedActivateTOTPForm",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Tessera")
MFA_RECOVERY_CODE_COUNT = 10
# TOTP secrets and recovery-code seeds are stored encrypted (Fernet) with this key;
# empty derives one from SECRET_KEY.
MFA_ENCRYPTION_KEY = env("MFA_ENCRYPTION_KEY", default="")
# The platform admin (root domain) only for superusers who signed in with TOTP.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=False)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.TenantJWTAuthentication",
        "tenant_apps.integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view is tenant-scoped unless it deliberately opts out (PublicEndpoint).
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": ["shared_apps.core.renderers.TesseraJSONRenderer"],  # orjson
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "shared_apps.core.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "shared_apps.core.openapi.TesseraAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "shared_apps.core.pagination.TenantCursorPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "shared_apps.core.filtering.TenantFilterBackend",  # django-filter, skipped when unused
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "shared_apps.core.throttling.TenantUserRateThrottle",
        "shared_apps.core.throttling.TenantAnonRateThrottle",
        "shared_apps.core.throttling.ScopedIPThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("THROTTLE_USER_RATE", default="1200/min"),
        "anon": env("THROTTLE_ANON_RATE", default="120/min"),
        "signup": env("THROTTLE_SIGNUP_RATE", default="20/hour"),
        "login": env("THROTTLE_LOGIN_RATE", default="30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the app that append to X-Forwarded-For (1 behind the AWS ALB).
    # 0 ignores the header, so a client cannot pick the address it is throttled under.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Failed password logins (token and session endpoints) locked out per account and per
# client address; see shared_apps/core/lockout.py.
LOGIN_LOCKOUT = {
    "ACCOUNT_FAILURES": env.int("LOGIN_LOCKOUT_ACCOUNT_FAILURES", default=10),
    "IP_FAILURES": env.int("LOGIN_LOCKOUT_IP_FAILURES", default=50),
    "WINDOW_SECONDS": env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=900),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tessera tenant API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "tenant_apps.catalog.models.ProductStatus",
        "OrderStatusEnum": "tenant_apps.orders.models.OrderStatus",
        "ExportStatusEnum": "tenant_apps.exports.models.ExportStatus",
        "RoleEnum": "shared_apps.organizations.roles.Role",
        "ApiKeyRoleEnum": "tenant_apps.integrations.models.ApiKeyRole",
    },
    "COMPONENT_SPLIT_REQUEST": True,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# Security headers on every response ------------------------------------------------------
# Scripts only from our own origin (Swagger UI uses the split view, with no inline
# script). Inline styles stay allowed: Swagger UI and the admin set style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Powerful browser features this product never uses are switched off for every page.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# Stripe (billing issue) ---------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
if STRIPE_API_BASE:
    STRIPE_API_HOST = STRIPE_API_BASE  # dj-stripe's name for the same thing
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_API_VERSION = env("STRIPE_API_VERSION", default="2026-05-27.dahlia")
DJSTRIPE_SUBSCRIBER_MODEL = "tenants.Tenant"  # each tenant is one Stripe customer
# dj-stripe's tables from one SQL migration without migration state: its own 60-odd
# migrations made every tenant-schema migration cost minutes of CPU (ADR 0008).
MIGRATION_MODULES = {"djstripe": "billing.djstripe_migrations"}
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
# Seconds a signed webhook stays acceptable (Stripe's own default is 300; never more).
STRIPE_WEBHOOK_TOLERANCE = min(env.int("STRIPE_WEBHOOK_TOLERANCE", default=300), 300)
STRIPE_METER_EVENT_NAME = env("STRIPE_METER_EVENT_NAME", default="tessera_orders")
# stripe-python's own retries of a failed call (0.5 s, then up to 1 s apart) before the
# error reaches Tessera, and the first retry of a billing task after that (at most this
# many seconds, doubling each time up to 10 minutes, with full jitter).
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
BILLING_TASK_RETRY_BACKOFF = max(1, env.int("BILLING_TASK_RETRY_BACKOFF", default=5))
BILLING_PAST_DUE_GRACE_DAYS = env.int("BILLING_PAST_DUE_GRACE_DAYS", default=7)
BILLING_CANCELED_RETENTION_DAYS = env.int("BILLING_CANCELED_RETENTION_DAYS", default=30)

# Celery ----------------------------------------------------------------------------------
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queue name → options (defaults: a direct exchange and routing key of the same name).
CELERY_TASK_QUEUES: dict[str, dict] = {"default": {}, "billing": {}, "bulk": {}}
CELERY_TASK_ROUTES = [
    "tenants.background.tasking.route_task",  # the queue given to @tenant_task / @public_task
    {"billing.*": {"queue": "billing"}, "tenant_apps.exports.*": {"queue": "bulk"}},
]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis hands an unacknowledged message to another worker after this many seconds:
    # it must exceed the hard time limit and any retry countdown (ADR 0006).
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
# With acks_late, tasks running when the broker connection drops are redelivered anyway.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_RESULT_EXPIRES = 24 * 3600  # results (kept for chords) live in the broker's Redis
# Read by Celery on every publish (request paths queue tasks after commit): spelled out at
# Celery's defaults so that each read finds its key at once. Unset, each read misses
# Django's settings under four spellings (an AttributeError each) before Celery's default
# answers (issue 13: a tenth of a publish's cost).
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_REPR_MAXLEVELS = 3
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BROKER_POOL_ACQUIRE_TIMEOUT = None
# A process that walks many schemas opens a fresh database connection after this many
# (PostgreSQL's per-connection catalog cache grows with every schema touched).
TENANT_SCHEMAS_PER_CONNECTION = env.int("TENANT_SCHEMAS_PER_CONNECTION", default=100)
# Periodic jobs over every tenant go through tenants.background.tasks.run_fanout; the hourly beat
# of a daily job is idempotent (one run per period) and catches up after beat downtime.
CELERY_BEAT_SCHEDULE = {
    "replenish-spare-schemas": {
        "task": "tenants.tasks.replenish_spare_schemas",
        "schedule": 300.0,
    },
    "billing-deadlines": {  # trial expiry and the past-due grace period, per tenant
        "task": "tenants.tasks.run_fanout",
        "schedule": timedelta(hours=1),
        "kwargs": {
            "job": "billing-deadlines",
            "task": "billing.tasks.enforce_billing_deadlines",
            "cadence": "hourly",
        },
    },
    "usage-metering": {  # yesterday's orders to Stripe, once per tenant and day
        "task": "tenants.tasks.run_fanout",
        "schedule": timedelta(hours=1),
        "kwargs": {
            "job": "usage-metering",
            "task": "billing.tasks.meter_usage",
            "cadence": "daily",
        },
    },
    "export-cleanup": {
        "task": "tenants.tasks.run_fanout",
        "schedule": timedelta(hours=6),
        "kwargs": {
            "job": "export-cleanup",
            "task": "tenant_apps.exports.tasks.cleanup_exports",
            "cadence": "daily",
        },
    },
    "purge-canceled-tenants": {
        "task": "tenants.tasks.purge_canceled_tenants",
        "schedule": timedelta(hours=6),
    },
    "requeue-stuck-webhook-events": {
        "task": "billing.tasks.requeue_stuck_webhook_events",
        "schedule": timedelta(minutes=5),
    },
    "tenant-data-deletions": {  # a tenant's data, gone: grace periods over (ADR 0023)
        "task": "tenants.data.tasks.purge_due_deletions",
        "schedule": timedelta(hours=1),
    },
    "tenant-data-export-expiry": {
        "task": "tenants.data.tasks.expire_data_exports",
        "schedule": timedelta(hours=6),
    },
    "clear-expired-sessions": {
        "task": "tenants.tasks.run_fanout",
        "schedule": timedelta(hours=1),
        "kwargs": {
            "job": "clear-expired-sessions",
            "task": "tenants.tasks.clear_expired_sessions",
            "cadence": "daily",
        },
    },
}

# Support access (impersonation, SPEC §13, ADR 0024) ----------------------------------------
# A platform admin with the support permission acts as a tenant member, in the web app
# and the API on the tenant's host, for at most SUPPORT_ACCESS_MINUTES; the admin hands
# off to that host with a single-use signed token valid SUPPORT_ACCESS_HANDOFF_SECONDS.
SUPPORT_ACCESS_MINUTES = env.float("SUPPORT_ACCESS_MINUTES", default=30)
SUPPORT_ACCESS_HANDOFF_SECONDS = env.int("SUPPORT_ACCESS_HANDOFF_SECONDS", default=120)
SHARED_APPS += ["shared_apps.support"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "shared_apps.support.middleware.SupportAccessMiddleware",
)
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # type: ignore[index]
    "shared_apps.support.context_processors.support"
)

# Per-seat plans and entitlements (billing.seats, billing.entitlements, ADR 0025) -------
# How Stripe prorates a seat change mid-period: create_prorations (next invoice),
# always_invoice (invoice now) or none.
BILLING_SEAT_PRORATION = env("BILLING_SEAT_PRORATION", default="create_prorations")
CELERY_BEAT_SCHEDULE["seat-reconcile"] = {  # per-seat quantities Stripe has not confirmed
    "task": "tenants.tasks.run_fanout",
    "schedule": timedelta(hours=1),
    "kwargs": {
        "job": "seat-reconcile",
        "task": "billing.tasks.reconcile_seats",
        "cadence": "hourly",
    },
}
CELERY_BEAT_SCHEDULE["audit-log-retention"] = {  # the audit_log_days entitlement
    "task": "tenants.tasks.run_fanout",
    "schedule": timedelta(hours=6),
    "kwargs": {
        "job": "audit-log-retention",
        "task": "billing.tasks.purge_audit_log",
        "cadence": "daily",
    },
}

# A tenant's data, out and gone (tenants.data, ADR 0023) ----------------------------------
TENANT_DELETION_GRACE_DAYS = env.int("TENANT_DELETION_GRACE_DAYS", default=14)
TENANT_DATA_EXPORT_DAYS = env.int("TENANT_DATA_EXPORT_DAYS", default=7)
TENANT_DATA_EXPORT_CHUNK_SIZE = env.int("TENANT_DATA_EXPORT_CHUNK_SIZE", default=2000)

# Integrations: API keys and outgoing webhooks (SPEC §11, ADRs 0020 and 0021) ----------
# http:// and loopback/private receivers; the development settings turn it on, and
# production forces it off whatever the environment says.
WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS = env.bool("WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", default=False)
# Seconds between a failed attempt and the next one (about 27 h in all; +-20 % jitter).
WEBHOOK_RETRY_SCHEDULE = [
    float(seconds)
    for seconds in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.2)
# An endpoint failing for this many seconds (every attempt since) is disabled and its
# tenant's owners emailed; default 3 days.
WEBHOOK_DISABLE_AFTER = env.int("WEBHOOK_DISABLE_AFTER", default=3 * 24 * 3600)
# The whole attempt, at most (SPEC §11: never above 10 s, destinations caps it).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
WEBHOOK_CONNECT_TIMEOUT = 3.0
# Attempts in flight at once per endpoint (1: in order per endpoint).
WEBHOOK_ENDPOINT_CONCURRENCY = env.int("WEBHOOK_ENDPOINT_CONCURRENCY", default=1)
# How long a worker holds a delivery while it sends it (> WEBHOOK_TIMEOUT); a worker
# killed mid-send leaves its lease to run out before the sweeper hands the delivery on.
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=30)
# The secret replaced by rotate-secret/ keeps signing deliveries this long.
WEBHOOK_SECRET_OVERLAP_SECONDS = 24 * 3600
CELERY_BEAT_SCHEDULE["webhook-sweeper"] = {  # outbox rows whose enqueue was lost, retries
    "task": "tenant_apps.integrations.tasks.sweep_webhook_deliveries",
    "schedule": 30.0,
}

# Email -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tessera <no-reply@tessera.invalid>")

# Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Files (exports) on S3 (issue 12, ADR 0016) -------------------------------------------
# Local files under MEDIA_ROOT unless STORAGE_BUCKET is set; then every file goes to that
# S3 bucket through django-storages (tenants/storage.py), still under the tenant's prefix,
# and downloads are presigned URLs living STORAGE_DOWNLOAD_URL_SECONDS (at most 900).
STORAGE_BUCKET = env("STORAGE_BUCKET", default="")
STORAGE_REGION = env("STORAGE_REGION", default="")
# An S3-compatible server instead of AWS (MinIO, moto); path-style addressing then.
STORAGE_ENDPOINT_URL = env("STORAGE_ENDPOINT_URL", default="")
STORAGE_DOWNLOAD_URL_SECONDS = max(
    1, min(env.int("STORAGE_DOWNLOAD_URL_SECONDS", default=120), 900)
)
# Seconds to connect to and to read from S3, and tries per call, before a clear 503.
STORAGE_TIMEOUT_SECONDS = env.float("STORAGE_TIMEOUT_SECONDS", default=5.0)
STORAGE_MAX_ATTEMPTS = env.int("STORAGE_MAX_ATTEMPTS", default=3)


def s3_storage(
    *,
    bucket: str,
    region: str = "",
    endpoint_url: str = "",
    timeout: float = 5.0,
    max_attempts: int = 3,
    **options: object,
) -> dict:
    """The STORAGES entry for the S3 bucket of tenant files (tests build theirs with it)."""
    return {
        "BACKEND": "tenants.storage.TenantFileS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "region_name": region or None,
            "endpoint_url": endpoint_url or None,
            "addressing_style": "path" if endpoint_url else "virtual",
            "timeout": timeout,
            "max_attempts": max_attempts,
            **options,
        },
    }


if STORAGE_BUCKET:
    STORAGES = {
        **STORAGES,
        "default": s3_storage(
            bucket=STORAGE_BUCKET,
            region=STORAGE_REGION,
            endpoint_url=STORAGE_ENDPOINT_URL,
            timeout=STORAGE_TIMEOUT_SECONDS,
            max_attempts=STORAGE_MAX_ATTEMPTS,
        ),
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Logging: one line per record, JSON by default (LOG_FORMAT=plain for humans), each with
# the request id, tenant schema and user id of the request or task that wrote it.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "shared_apps.core.observability.ContextFilter"}},
    "formatters": {
        "json": {"()": "shared_apps.core.observability.JsonFormatter"},
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "[request=%(request_id)s tenant=%(tenant)s user=%(user_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
# Workers keep the logging above (JSON with task context) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Sentry is initialised by the deployed settings (production, staging) when a DSN is set.
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
SENTRY_RELEASE = env("SENTRY_RELEASE", default="")

# Web app: server-rendered pages on every tenant host (issue 11, ADR 0019) ---------------
# htmx is a vendored static file (static/vendor/); django-htmx gives request.htmx and
# django-template-partials the named fragments a page and its htmx update share. The
# pages answer with style-src 'self' (shared_apps/core/pages.py); the policy above keeps
# inline styles for Swagger UI and the admin.
SHARED_APPS += ["django_htmx", "template_partials"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "django_htmx.middleware.HtmxMiddleware",
)
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Page polling (issue 14: suite time) -------------------------------------------------------
# Seconds between the htmx polls of a page waiting for background work: the export list's
# pending rows and a webhook endpoint's delivery log. Not from the environment; the browser
# tests lower them (tests/browser.py) so a journey waits for the work, not for the poll.
EXPORT_POLL_SECONDS: float = 1
WEBHOOK_LOG_POLL_SECONDS: float = 2

# Performance II (issue 15, ADR 0026) -----------------------------------------------------
# Memberships cached per process, validated by the routing generation
# (tenants/membership_cache.py): entries (tenant schema, user id) kept per process.
MEMBERSHIP_CACHE_SIZE = env.int("MEMBERSHIP_CACHE_SIZE", default=10_000)

# Fast tenant lists (issue 15, fastlist) -------------------------------------------------
# Access tokens that authenticated, kept verified per process until they expire
# (tenants/token_cache.py), keyed by (tenant, token); 0 turns the cache off.
JWT_VERIFIED_CACHE_SIZE = env.int("JWT_VERIFIED_CACHE_SIZE", default=4096)
