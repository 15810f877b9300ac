"""Usage against the plan's limits, shaped for the dashboard and billing pages."""

from __future__ import annotations

from dataclasses import dataclass

LIMIT_LABELS = {
    "members": "Members",
    "products": "Products",
    "orders_per_month": "Orders this month",
}


@dataclass(frozen=True)
class UsageRow:
    key: str
    label: str
    used: int
    limit: int | None

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))

    @property
    def near(self) -> int:
        """Where the meter turns to "nearly full" (80 %)."""
        return round((self.limit or 0) * 0.8)


def usage_rows(overview: dict) -> list[UsageRow]:
    """One row per limit of ``billing_overview(...)``."""
    return [
        UsageRow(
            key=key,
            label=LIMIT_LABELS.get(key, key.replace("_", " ").capitalize()),
            used=overview["usage"][key],
            limit=overview["limits"][key],
        )
        for key in overview["limits"]
    ]
