"""Demo tenants ``acme``, ``globex`` and ``initech`` (on the per-seat ``team`` plan),
each with an owner and a member, a catalog, customers and six months of orders (so the
dashboards have something to show). Idempotent; prints the web app's login URLs."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import tenant_context

from billing.seats import seats_record
from shared_apps.accounts.models import User
from shared_apps.organizations.models import OrganizationUser
from shared_apps.organizations.roles import Role
from tenant_apps.demo import seed_tenant_demo
from tenants.models import Domain
from tenants.naming import tenant_host
from tenants.provisioning import tenant_provision

DEMO_PASSWORD = "tessera-demo-pass"  # noqa: S105 - documented demo credential
DEMO_TENANTS = [
    ("acme", "Acme Corporation", "starter"),
    ("globex", "Globex Corporation", "pro"),
    ("initech", "Initech", "team"),  # per seat: its billing page shows seats used and paid
]
SUPERUSER_EMAIL = "admin@tessera.localhost"


class Command(BaseCommand):
    help = "Create the demo tenants (acme, globex, initech) with an owner and a member each."

    def handle(self, *args, **options):
        port = settings_port()
        lines = []
        for subdomain, name, plan in DEMO_TENANTS:
            owner_email = f"owner@{subdomain}.example"
            member_email = f"member@{subdomain}.example"
            with transaction.atomic():
                domain = (
                    Domain.objects.filter(domain=tenant_host(subdomain))
                    .select_related("tenant")
                    .first()
                )
                if domain is None:
                    tenant = tenant_provision(
                        name=name,
                        subdomain=subdomain,
                        owner_email=owner_email,
                        owner_password=DEMO_PASSWORD,
                        plan_code=plan,
                    ).tenant
                else:
                    tenant = domain.tenant
                member = User.objects.filter(email=member_email).first() or (
                    User.objects.create_user(email=member_email, password=DEMO_PASSWORD)
                )
                OrganizationUser.objects.get_or_create(
                    organization_id=tenant.organization_id,
                    user=member,
                    defaults={"role": Role.MEMBER},
                )
                seats_record(tenant=tenant)  # the per-seat plan's quantity to be
                owner = User.objects.get(email=owner_email)
                with tenant_context(tenant):
                    seed_tenant_demo(owner=owner, seed=len(subdomain))
            base = f"http://{tenant_host(subdomain)}:{port}"
            lines += [
                f"  {name}: {base}/accounts/login/   (API docs: {base}/api/v1/docs/)",
                f"    owner  {owner_email} / {DEMO_PASSWORD}",
                f"    member {member_email} / {DEMO_PASSWORD}",
            ]
        if not User.objects.filter(email=SUPERUSER_EMAIL).exists():
            User.objects.create_superuser(email=SUPERUSER_EMAIL, password=DEMO_PASSWORD)
        root = f"http://{settings.ROOT_DOMAIN}:{port}"
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Sign up:        {root}/signup/")
        self.stdout.write(
            f"  Platform admin: {root}/{settings.DJANGO_ADMIN_URL}  "
            f"({SUPERUSER_EMAIL} / {DEMO_PASSWORD})"
        )
        for line in lines:
            self.stdout.write(line)


def settings_port() -> str:
    import os

    return os.environ.get("PORT", "8000")
