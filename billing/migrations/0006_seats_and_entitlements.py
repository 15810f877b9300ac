import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Audit log retention per plan (days; None = forever), and the per-seat "team" plan:
# $12 a billable member a month, everything starter has plus MFA enforcement.
AUDIT_LOG_DAYS = {"free": 30, "starter": 180, "pro": None}
TEAM = {
    "name": "Team",
    "monthly_price_cents": 1200,
    "pricing": "per_seat",
    "max_members": None,
    "max_products": 5000,
    "max_orders_per_month": 10000,
    "features": ["exports", "api_keys", "webhooks", "mfa_enforcement"],
    "audit_log_days": 365,
    "sort_order": 3,
}


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, days in AUDIT_LOG_DAYS.items():
        Plan.objects.filter(code=code).update(audit_log_days=days)
    Plan.objects.get_or_create(code="team", defaults=TEAM)


def unseed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(code="team", tenants__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_plan_features"),
        ("tenants", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="pricing",
            field=models.CharField(
                choices=[
                    ("flat", "Flat price a month"),
                    ("per_seat", "Price per billable member a month"),
                ],
                db_default="flat",
                default="flat",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="plan",
            name="audit_log_days",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="stripe_subscription_item_id",
            field=models.CharField(blank=True, db_default="", max_length=255),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seats_desired",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seat_sequence",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seats_pushed_sequence",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seats_paid",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seats_observed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="seats_last_error",
            field=models.TextField(blank=True, db_default=""),
        ),
        migrations.CreateModel(
            name="TenantEntitlementOverride",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=32)),
                ("enabled", models.BooleanField(default=True, help_text="Features: whether the tenant has it (ignored for limits).")),
                ("value", models.PositiveIntegerField(blank=True, help_text="Limits and audit log days: the value; empty = unlimited.", null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("note", models.CharField(help_text="Why (the deal, the ticket).", max_length=255)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="entitlement_overrides", to="tenants.tenant")),
            ],
            options={
                "ordering": ["tenant_id", "key"],
                "constraints": [models.UniqueConstraint(fields=("tenant", "key"), name="entitlement_override_once")],
            },
        ),
        migrations.RunPython(seed, unseed),
    ]
