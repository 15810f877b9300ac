"""The fan-out models, moved from the ``tenants`` app (ADR 0027).

State only: their tables were created by ``tenants.0003_fanout`` and keep their names
and data; ``tenants.0004`` removes the models from that app's state.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tenants', '0003_fanout'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='FanoutRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('job', models.CharField(max_length=100)),
                ('period', models.CharField(max_length=40)),
                ('task_name', models.CharField(max_length=200)),
                ('task_kwargs', models.JSONField(blank=True, default=dict)),
                ('started_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('dispatched_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('tenant_count', models.PositiveIntegerField(default=0)),
                ('dispatcher', models.CharField(blank=True, max_length=200)),
            ],
            options={
                'db_table': 'tenants_fanoutrun',
                'ordering': ['-started_at', '-id'],
                'constraints': [models.UniqueConstraint(fields=('job', 'period'), name='fanout_run_once_per_period')],
            },
        ),
        migrations.CreateModel(
            name='FanoutItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('schema_name', models.CharField(max_length=63)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('queued', 'Queued'), ('retrying', 'Retrying'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('skipped', 'Skipped')], default='pending', max_length=16)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('task_id', models.CharField(blank=True, max_length=64)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('tenant', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='fanout_items', to='tenants.tenant')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='tenant_background.fanoutrun')),
            ],
            options={
                'db_table': 'tenants_fanoutitem',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['run', 'status'], name='fanout_item_run_status')],
                'constraints': [models.UniqueConstraint(fields=('run', 'schema_name'), name='fanout_item_per_tenant'), models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'queued', 'retrying', 'succeeded', 'failed', 'skipped'])), name='fanout_item_status_valid')],
            },
        ),
        migrations.CreateModel(
            name='FanoutFailure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('schema_name', models.CharField(max_length=63)),
                ('job', models.CharField(max_length=100)),
                ('attempt', models.PositiveIntegerField()),
                ('error', models.TextField()),
                ('traceback', models.TextField(blank=True)),
                ('will_retry', models.BooleanField(default=False)),
                ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='failures', to='tenant_background.fanoutitem')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='failures', to='tenant_background.fanoutrun')),
            ],
            options={
                'db_table': 'tenants_fanoutfailure',
                'ordering': ['-created', '-id'],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[]),
    ]
