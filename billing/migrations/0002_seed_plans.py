from django.db import migrations

PLANS = [
    # code, name, price (cents/month), members, products, orders per month, order
    ("free", "Free", 0, 3, 50, 100, 0),
    ("starter", "Starter", 2900, 10, 1000, 2000, 1),
    ("pro", "Pro", 9900, None, None, None, 2),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, name, price, members, products, orders, order in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "monthly_price_cents": price,
                "max_members": members,
                "max_products": products,
                "max_orders_per_month": orders,
                "sort_order": order,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(code__in=[p[0] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
