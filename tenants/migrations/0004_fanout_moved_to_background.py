"""The fan-out models moved to ``tenants.background`` (ADR 0027): state only, the tables
stay (``tenant_background.0001_initial`` now owns them under the same names)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
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
    ]
