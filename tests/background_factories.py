"""factory_boy factories for the background-work models (tenants.background)."""

from __future__ import annotations

import factory

from tenants.background.models import FanoutFailure, FanoutItem, FanoutItemStatus, FanoutRun


class FanoutRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FanoutRun

    job = factory.Sequence(lambda n: f"job-{n}")
    period = "2026-11-21"
    task_name = "tests.fanout_probe"


class FanoutItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FanoutItem

    run = factory.SubFactory(FanoutRunFactory)
    schema_name = "t_alpha"
    status = FanoutItemStatus.QUEUED

    class Params:
        failed = factory.Trait(status=FanoutItemStatus.FAILED, attempts=3, last_error="boom")
        succeeded = factory.Trait(status=FanoutItemStatus.SUCCEEDED, attempts=1)


class FanoutFailureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FanoutFailure

    item = factory.SubFactory(FanoutItemFactory, failed=True)
    run = factory.SelfAttribute("item.run")
    schema_name = factory.SelfAttribute("item.schema_name")
    job = factory.SelfAttribute("item.run.job")
    attempt = 1
    error = "RuntimeError: boom"
