"""Creating tenants: sign-up, ``create_tenant`` and the pool of spare schemas.

A new tenant's schema is not migrated on the request path. A small pool of spare
schemas, already migrated to the current tenant migrations, waits in the database;
provisioning renames one (``ALTER SCHEMA ... RENAME``, constant time whatever the
number of migrations) inside the same transaction that inserts the tenant, domain,
organisation, owner and membership. PostgreSQL DDL is transactional, so any failure
rolls back everything: no row and no schema is left behind, and the spare returns to
the pool. The pool is topped up after commit by a Celery task (and by
``ensure_spare_schemas``); when it is empty, provisioning migrates a fresh schema in
the same transaction instead (correct, just slower).
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, ProgrammingError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from psycopg import errors as pg_errors

from billing.selectors import plan_get_for_signup
from shared_apps.accounts.models import User
from shared_apps.core.errors import EmailRegistered, SubdomainTaken, ValidationFailed
from shared_apps.organizations.models import Organization, OrganizationOwner, OrganizationUser
from shared_apps.organizations.roles import Role
from tenants import locks
from tenants.models import Domain, SpareSchema, Tenant, TenantEvent, TenantEventAction, TenantStatus
from tenants.naming import schema_name_for, subdomain_problem, tenant_host
from tenants.postgresql_backend.base import tenant_connection
from tenants.schema_ddl import schema_create, schema_drop, schema_rename

logger = logging.getLogger(__name__)

SPARE_PREFIX = "spare_"


@dataclass(frozen=True)
class Provisioned:
    tenant: Tenant
    domain: Domain
    user: User
    membership: OrganizationUser
    user_created: bool


# Migrations ------------------------------------------------------------------------------


def _tenant_app_labels() -> set[str]:
    from django.apps import apps

    return {
        apps.get_app_config(name.rsplit(".", 1)[-1]).label
        for name in settings.TENANT_APPS
        if apps.is_installed(name)
    } | {"sessions"}


@functools.cache
def migration_fingerprint() -> str:
    """A digest of every tenant-app migration on disk; spares must match it to be used."""
    import hashlib

    labels = _tenant_app_labels()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    keys = sorted(f"{app}.{name}" for app, name in loader.disk_migrations if app in labels)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _migrate_schema(schema_name: str) -> None:
    call_command(
        "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
    )
    tenant_connection().set_schema_to_public()


# Spare pool -----------------------------------------------------------------------------


def spare_schema_create() -> SpareSchema:
    """Create and migrate one spare schema (slow: runs every tenant migration). Commits."""
    schema_name = f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}"
    schema_create(schema_name)
    try:
        _migrate_schema(schema_name)
    except Exception:
        schema_drop(schema_name)
        raise
    return SpareSchema.objects.create(
        schema_name=schema_name, migration_fingerprint=migration_fingerprint()
    )


def spare_schemas_replenish(*, target: int | None = None) -> int:
    """Drop stale spares and create new ones until ``target`` are ready. Returns how many
    were created. Concurrent callers are serialised by an advisory lock (others return 0)."""
    target = settings.TENANT_SPARE_SCHEMAS if target is None else target
    # Transaction-level, on a connection of its own (pooler-safe, ADR 0014).
    with locks.try_xact_lock(locks.SPARE_POOL) as acquired:
        if not acquired:
            return 0
        current = migration_fingerprint()
        for stale in SpareSchema.objects.exclude(migration_fingerprint=current):
            with transaction.atomic():
                schema_drop(stale.schema_name)
                stale.delete()
        created = 0
        while SpareSchema.objects.filter(migration_fingerprint=current).count() < target:
            spare_schema_create()
            created += 1
        return created


def _request_replenish() -> None:
    from tenants.tasks import replenish_spare_schemas

    try:
        replenish_spare_schemas.delay()
    except Exception:  # a broker outage must not fail a sign-up that has committed
        logger.warning("could not queue replenish_spare_schemas", exc_info=True)


def _schema_install(schema_name: str) -> bool:
    """Give the new tenant a migrated schema named ``schema_name`` (inside the caller's
    transaction). Returns True if a spare was used, False if it had to be migrated."""
    while True:
        spare = (
            SpareSchema.objects.select_for_update(skip_locked=True)
            .filter(migration_fingerprint=migration_fingerprint())
            .first()
        )
        if spare is None:
            break
        try:
            with transaction.atomic():
                schema_rename(spare.schema_name, schema_name)
        except DatabaseError as exc:
            if not isinstance(exc.__cause__, pg_errors.InvalidSchemaName):
                raise
            # Dropped by hand: forget it and try the next one.
            logger.warning("spare schema %s is missing; discarding it", spare.schema_name)
            spare.delete()
            continue
        spare.delete()
        return True

    logger.warning("spare schema pool is empty; migrating %s on the request path", schema_name)
    schema_create(schema_name)
    _migrate_schema(schema_name)
    return False


# Sign-up ------------------------------------------------------------------------------------


def _validate_signup(
    *, name: str, subdomain: str, email: str, password: str, plan_code: str | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = ["This field is required."]
    elif len(name.strip()) > 200:
        errors["name"] = ["Use at most 200 characters."]
    problem = subdomain_problem(subdomain)
    if problem:
        errors["subdomain"] = [problem]
    try:
        validate_email(email)
    except DjangoValidationError:
        errors["email"] = ["Enter a valid email address."]
    if not password:
        errors["password"] = ["This field is required."]
    if plan_get_for_signup(code=plan_code) is None:
        errors["plan"] = [f"Unknown plan {plan_code!r}."]
    return errors


def _owner_user(*, email: str, password: str) -> tuple[User, bool]:
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if not existing.is_active or not existing.check_password(password):
            raise EmailRegistered(fields={"email": [EmailRegistered.message]})
        return existing, False
    try:
        validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc
    return User.objects.create_user(email=email, password=password), True


def _free_schema_name(subdomain: str) -> str:
    attempt = 0
    while True:
        candidate = schema_name_for(subdomain, attempt=attempt)
        taken = Tenant.objects.filter(schema_name=candidate).exists() or _schema_exists(candidate)
        if not taken:
            return candidate
        attempt += 1


def _schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def tenant_provision(
    *,
    name: str,
    subdomain: str,
    owner_email: str,
    owner_password: str,
    plan_code: str | None = None,
    acting_user: User | None = None,
    request=None,
) -> Provisioned:
    """Create an organisation's tenant: user (or reuse), organisation, schema, domain,
    owner membership, trial. All or nothing (see module docstring).

    Raises ``ValidationFailed`` (400), ``SubdomainTaken`` or ``EmailRegistered`` (409).
    """
    subdomain = (subdomain or "").strip().lower()
    owner_email = (owner_email or "").strip().lower()
    name = (name or "").strip()
    errors = _validate_signup(
        name=name,
        subdomain=subdomain,
        email=owner_email,
        password=owner_password,
        plan_code=plan_code,
    )
    if errors:
        raise ValidationFailed(fields=errors)
    try:
        provisioned = _provision(
            name=name,
            subdomain=subdomain,
            email=owner_email,
            password=owner_password,
            plan_code=plan_code,
            acting_user=acting_user,
            request=request,
        )
    except (IntegrityError, ProgrammingError) as exc:
        # Lost a race with a concurrent sign-up; everything was rolled back.
        if isinstance(exc, ProgrammingError) and not isinstance(
            exc.__cause__, pg_errors.DuplicateSchema
        ):
            raise
        if "email" in str(exc):
            raise EmailRegistered(fields={"email": [EmailRegistered.message]}) from exc
        raise SubdomainTaken(fields={"subdomain": [SubdomainTaken.message]}) from exc
    return provisioned


@transaction.atomic
def _provision(
    *,
    name: str,
    subdomain: str,
    email: str,
    password: str,
    plan_code: str | None,
    acting_user: User | None,
    request=None,
) -> Provisioned:
    host = tenant_host(subdomain)
    if Domain.objects.filter(domain=host).exists():
        raise SubdomainTaken(fields={"subdomain": [SubdomainTaken.message]})
    plan = plan_get_for_signup(code=plan_code)
    assert plan is not None  # validated by _validate_signup
    user, user_created = _owner_user(email=email, password=password)

    organization = Organization.objects.create(name=name, slug=subdomain)
    schema_name = _free_schema_name(subdomain)
    used_spare = _schema_install(schema_name)

    now = timezone.now()
    tenant = Tenant(
        schema_name=schema_name,
        subdomain=subdomain,
        name=name,
        organization=organization,
        plan=plan,
        status=TenantStatus.TRIALING,
        trial_ends_at=now + timedelta(days=settings.TENANT_TRIAL_DAYS),
    )
    tenant.save()
    domain = Domain.objects.create(domain=host, tenant=tenant, is_primary=True)
    membership = OrganizationUser.objects.create(
        organization=organization, user=user, role=Role.OWNER
    )
    OrganizationOwner.objects.create(organization=organization, organization_user=membership)
    TenantEvent.objects.create(
        tenant=tenant,
        actor=acting_user or user,
        action=TenantEventAction.TENANT_PROVISIONED,
        detail={"subdomain": subdomain, "plan": plan.code, "used_spare_schema": used_spare},
    )
    transaction.on_commit(_request_replenish)
    if user_created:  # a new owner verifies the address (grace period, ADR 0018)
        from shared_apps.accounts.services import email_verification_start
        from tenants.selectors import tenant_url

        email_verification_start(
            user=user,
            tenant=tenant,
            base_url=tenant_url(host=host, request=request) if request is not None else "",
        )
    return Provisioned(
        tenant=tenant, domain=domain, user=user, membership=membership, user_created=user_created
    )
