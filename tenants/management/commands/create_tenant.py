from django.core.management.base import BaseCommand, CommandError

from shared_apps.core.errors import TesseraError
from tenants.provisioning import tenant_provision


class Command(BaseCommand):
    help = "Create a tenant non-interactively (the same service as sign-up)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--subdomain", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--plan", default=None)

    def handle(self, *args, **options):
        try:
            provisioned = tenant_provision(
                name=options["name"],
                subdomain=options["subdomain"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                plan_code=options["plan"],
            )
        except TesseraError as exc:
            detail = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.code}: {exc.message} {detail}".strip()) from exc
        tenant = provisioned.tenant
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.name!r}: schema {tenant.schema_name}, "
                f"host {provisioned.domain.domain}, owner {provisioned.user.email}"
            )
        )
