from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.provisioning import spare_schemas_replenish


class Command(BaseCommand):
    help = "Create pre-migrated spare schemas so that sign-up does not migrate on the request path."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=settings.TENANT_SPARE_SCHEMAS)

    def handle(self, *args, **options):
        created = spare_schemas_replenish(target=options["count"])
        self.stdout.write(f"{created} spare schema(s) created; pool target {options['count']}.")
