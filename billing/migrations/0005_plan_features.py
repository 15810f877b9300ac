from django.db import migrations, models

# Plan code → the features it includes (SPEC §13). Plans not listed keep what they have.
FEATURES = {
    "free": ["exports"],
    "starter": ["exports", "api_keys", "webhooks"],
    "pro": ["exports", "api_keys", "webhooks", "mfa_enforcement"],
}


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, features in FEATURES.items():
        Plan.objects.filter(code=code).update(features=features)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_webhookevent_billingaccount_usagereport")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="features",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
