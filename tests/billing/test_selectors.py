"""billing/selectors.py: the plans offered at sign-up."""

from __future__ import annotations

from billing.models import Plan
from billing.selectors import DEFAULT_PLAN_CODE, plan_choices, plan_get_for_signup
from tests.factories import PlanFactory


def test_plan_choices_are_the_public_plans_by_code_and_name(db):
    PlanFactory(code="secret", name="Secret", hidden=True)
    choices = plan_choices()
    assert choices == list(Plan.objects.filter(is_public=True).values_list("code", "name"))
    assert ("secret", "Secret") not in choices
    assert (DEFAULT_PLAN_CODE, Plan.objects.get(code=DEFAULT_PLAN_CODE).name) in choices


def test_plan_for_signup_defaults_and_never_offers_a_hidden_plan(db):
    PlanFactory(code="secret", hidden=True)
    assert plan_get_for_signup(code=None).code == DEFAULT_PLAN_CODE
    assert plan_get_for_signup(code="starter").code == "starter"
    assert plan_get_for_signup(code="secret") is None
    assert plan_get_for_signup(code="nope") is None
