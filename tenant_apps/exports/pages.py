"""Export pages: request an export, watch its status (htmx polls the row), download.

The download link is the API's own ``exports/{id}/download/`` (the session cookie
authenticates it), so the file is served by one view with one gate.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect

from shared_apps.core.pages import TenantPageView, paginate
from tenant_apps.exports.models import Export, ExportKind
from tenant_apps.exports.services import export_request


class ExportRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=ExportKind.choices, initial=ExportKind.ORDERS_CSV)


class ExportListPage(TenantPageView):
    template_name = "app/exports/list.html"
    nav = "exports"

    def get(self, request, *args, **kwargs):
        return self.render_page(
            page=paginate(request, Export.objects.all()),
            form=ExportRequestForm(),
            poll_seconds=settings.EXPORT_POLL_SECONDS,
        )

    def post(self, request, *args, **kwargs):
        form = ExportRequestForm(request.POST)
        if not form.is_valid():
            return self.render_page(
                page=paginate(request, Export.objects.all()),
                form=form,
                poll_seconds=settings.EXPORT_POLL_SECONDS,
                status=400,
            )
        export = export_request(kind=form.cleaned_data["kind"], acting_user=request.user)
        messages.success(request, f"Export {export.pk} requested; it appears below when ready.")
        return redirect("app:export-list")


class ExportRowFragment(TenantPageView):
    """One export's row, which htmx polls while the export is pending or running."""

    template_name = "app/exports/list.html#export-row"

    def get(self, request, *args, **kwargs):
        export = get_object_or_404(Export.objects.all(), pk=self.kwargs["pk"])
        return self.render_page(export=export, poll_seconds=settings.EXPORT_POLL_SECONDS)
