from billing.models import Plan

DEFAULT_PLAN_CODE = "free"


def plan_get_for_signup(*, code: str | None) -> Plan | None:
    """The public plan with ``code`` (the default plan when no code is given), or None."""
    return Plan.objects.filter(code=code or DEFAULT_PLAN_CODE, is_public=True).first()


def plan_choices() -> list[tuple[str, str]]:
    return list(Plan.objects.filter(is_public=True).values_list("code", "name"))
