"""Charts drawn on the server as SVG geometry (no JavaScript, no inline style: CSP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


def month_label(month: str) -> str:
    """``2026-06`` as ``Jun 2026``."""
    return datetime.strptime(month, "%Y-%m").strftime("%b %Y")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    count: int
    x: float
    y: float
    width: float
    height: float
    label_x: float


@dataclass(frozen=True)
class Gridline:
    y: float
    label_y: float
    value: Decimal


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    maximum: Decimal
    gridlines: list[Gridline]
    label_y: float


def bar_chart(
    rows: list[dict], *, width: int = 640, height: int = 220, top: int = 22, bottom: int = 28
) -> BarChart:
    """Bars for ``[{"month", "revenue", "order_count"}]`` (order_monthly_revenue's rows)."""
    maximum = max((Decimal(row["revenue"]) for row in rows), default=Decimal(0)) or Decimal(1)
    plot = height - top - bottom
    slot = width / max(len(rows), 1)
    bar_width = slot * 0.6
    bars = []
    for index, row in enumerate(rows):
        value = Decimal(row["revenue"])
        bar_height = float(value / maximum) * plot
        x = index * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                label=month_label(row["month"]),
                value=value,
                count=row["order_count"],
                x=round(x, 1),
                y=round(top + plot - bar_height, 1),
                width=round(bar_width, 1),
                height=round(bar_height, 1),
                label_x=round(x + bar_width / 2, 1),
            )
        )
    gridlines = []
    for fraction in (Decimal("0.5"), Decimal(1)):
        y = round(top + plot - plot * float(fraction), 1)
        gridlines.append(
            Gridline(y=y, label_y=y - 4, value=(maximum * fraction).quantize(Decimal(1)))
        )
    return BarChart(
        width=width,
        height=height,
        baseline=top + plot,
        bars=bars,
        maximum=maximum,
        gridlines=gridlines,
        label_y=height - 8,
    )
