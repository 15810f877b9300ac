from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    # Built on django-organizations' abstract models; its own concrete app is not installed.
    name = "shared_apps.organizations"
    label = "organizations"
    verbose_name = "Organisations"

    def ready(self) -> None:
        from shared_apps.organizations import selectors  # noqa: F401 - registers its plan-usage counter
