"""The operator's dashboard (the platform admin's home page): reads only.

Every figure is one aggregate query over the public schema, so the page stays fast at
10,000 tenants. MRR is computed from the Stripe state Tessera mirrors: a tenant counts
when its synced subscription is ``active`` or ``past_due`` (Stripe still bills it), at
its plan's monthly price; trials and canceled subscriptions count nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from billing.models import BillingAccount, WebhookEvent, WebhookEventStatus
from tenants.background.models import FanoutItem, FanoutItemStatus, FanoutRun
from tenants.models import (
    SpareSchema,
    Tenant,
    TenantEvent,
    TenantEventAction,
    TenantStatus,
)

WEEKS = 8
BILLED_SUBSCRIPTION_STATES = ("active", "past_due")
ATTENTION_STATUSES = (TenantStatus.PAST_DUE, TenantStatus.SUSPENDED)


CHART_HEIGHT = 100  # px of the tallest bar in the weekly chart (an SVG, drawn here)


@dataclass(frozen=True)
class WeekBar:
    week: dt.date
    signups: int
    churned: int
    signups_height: int = 0
    churned_height: int = 0

    @property
    def signups_y(self) -> int:
        return CHART_HEIGHT + 10 - self.signups_height

    @property
    def churned_y(self) -> int:
        return CHART_HEIGHT + 10 - self.churned_height


@dataclass
class PlatformOverview:
    tenants_total: int
    by_status: dict[str, int]
    by_plan: list[tuple[str, int]]
    weeks: list[WeekBar]
    mrr_cents: int
    paying_tenants: int
    attention: list[Tenant]
    failed_webhooks: list[WebhookEvent]
    failed_webhook_count: int
    fanout_runs_with_failures: list[FanoutRun]
    fanout_failed_items: int
    spare_pool: int
    spare_target: int

    @property
    def mrr(self) -> str:
        return f"{self.mrr_cents / 100:,.2f}"


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _per_week(queryset, date_field: str, since: dt.datetime) -> dict[dt.date, int]:
    rows = (
        queryset.filter(**{f"{date_field}__gte": since})
        .annotate(week=TruncWeek(date_field))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["week"].date(): row["n"] for row in rows}


def platform_overview(*, now: dt.datetime | None = None) -> PlatformOverview:
    now = now or timezone.now()
    first_week = _week_start(timezone.localdate(now)) - dt.timedelta(weeks=WEEKS - 1)
    since = timezone.make_aware(dt.datetime.combine(first_week, dt.time.min))

    by_status_rows = Tenant.objects.values("status").annotate(n=Count("id")).order_by()
    by_status = {status.value: 0 for status in TenantStatus}
    by_status.update({row["status"]: row["n"] for row in by_status_rows})
    by_plan = [
        (row["plan__name"], row["n"])
        for row in Tenant.objects.values("plan__name", "plan__sort_order")
        .annotate(n=Count("id"))
        .order_by("plan__sort_order", "plan__name")
    ]

    signups = _per_week(Tenant.objects.all(), "created", since)
    churn = _per_week(
        TenantEvent.objects.filter(
            action=TenantEventAction.TENANT_STATUS_CHANGED, detail__to=TenantStatus.CANCELED
        ),
        "created",
        since,
    )
    days = [first_week + dt.timedelta(weeks=i) for i in range(WEEKS)]
    tallest = max([1, *signups.values(), *churn.values()])
    weeks = [
        WeekBar(
            week=week,
            signups=signups.get(week, 0),
            churned=churn.get(week, 0),
            signups_height=round(CHART_HEIGHT * signups.get(week, 0) / tallest),
            churned_height=round(CHART_HEIGHT * churn.get(week, 0) / tallest),
        )
        for week in days
    ]

    billed = BillingAccount.objects.filter(
        subscription_status__in=BILLED_SUBSCRIPTION_STATES
    ).aggregate(mrr=Sum("tenant__plan__monthly_price_cents"), paying=Count("id"))
    failed_events = WebhookEvent.objects.filter(status=WebhookEventStatus.FAILED)
    runs = (
        FanoutRun.objects.annotate(
            failed_count=Count("items", filter=Q(items__status=FanoutItemStatus.FAILED))
        )
        .filter(failed_count__gt=0)
        .order_by("-started_at")[:10]
    )
    return PlatformOverview(
        tenants_total=sum(by_status.values()),
        by_status=by_status,
        by_plan=by_plan,
        weeks=weeks,
        mrr_cents=int(billed["mrr"] or 0),
        paying_tenants=billed["paying"],
        attention=list(
            Tenant.objects.filter(status__in=ATTENTION_STATUSES)
            .select_related("plan")
            .order_by("status_changed_at")[:20]
        ),
        failed_webhooks=list(failed_events.order_by("-received_at")[:10]),
        failed_webhook_count=failed_events.count(),
        fanout_runs_with_failures=list(runs),
        fanout_failed_items=FanoutItem.objects.filter(status=FanoutItemStatus.FAILED).count(),
        spare_pool=SpareSchema.objects.count(),
        spare_target=settings.TENANT_SPARE_SCHEMAS,
    )
