"""The fan-out models moved to ``tenants.background`` (ADR 0027): state only, the tables
stay (``tenant_background.0001_initial`` now owns them under the same names). Their
content types follow them, so admin history and permissions stay attached."""

from django.db import migrations

MODELS = ["fanoutrun", "fanoutitem", "fanoutfailure"]


def _relabel(old: str, new: str):
    def relabel(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        if ContentType.objects.filter(app_label=new, model__in=MODELS).exists():
            return  # already created under the new label (never expected)
        ContentType.objects.filter(app_label=old, model__in=MODELS).update(app_label=new)

    return relabel


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('tenants', '0003_fanout'),
        ('tenant_background', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='FanoutFailure'),
                migrations.DeleteModel(name='FanoutItem'),
                migrations.DeleteModel(name='FanoutRun'),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            _relabel("tenants", "tenant_background"), _relabel("tenant_background", "tenants")
        ),
    ]
