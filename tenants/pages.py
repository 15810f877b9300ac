"""The dashboard at ``/`` of every tenant host.

Plan, status, trial end and usage come from ``billing.selectors.billing_overview`` (the
API's ``billing/``); the order summary and the monthly revenue from the orders
selectors (the API's ``orders/summary/`` and ``orders/monthly-revenue/``).
"""

from __future__ import annotations

from billing.selectors import billing_overview
from shared_apps.core.charts import bar_chart
from shared_apps.core.pages import TenantPageView
from tenant_apps.orders.selectors import order_list, order_monthly_revenue, order_summary
from tenants.overview import usage_rows

CHART_MONTHS = 12


class DashboardPage(TenantPageView):
    template_name = "app/dashboard.html"
    nav = "dashboard"

    def get(self, request, *args, **kwargs):
        overview = billing_overview(tenant=self.tenant)
        return self.render_page(
            overview=overview,
            usage=usage_rows(overview),
            summary=order_summary(),
            chart=bar_chart(order_monthly_revenue(months=CHART_MONTHS)),
            recent_orders=order_list().order_by("-created", "-id")[:5],
        )
