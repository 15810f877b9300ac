from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "shared_apps.support"
    label = "support"
    verbose_name = "Support access"
    default_auto_field = "django.db.models.BigAutoField"
