"""tenant_apps/exports/services.py: clean-up of old exports, with and without a file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tenant_apps.exports.models import Export
from tenant_apps.exports.services import export_cleanup
from tenants.storage import tenant_path
from tests.factories import ExportFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_cleanup_removes_old_exports_with_their_files_and_keeps_new_ones(in_alpha):
    path = default_storage.save(tenant_path("exports", "old.csv"), ContentFile(b"id\n"))
    old_done = ExportFactory(done=True, file_path=path)
    old_failed = ExportFactory(failed=True)  # never had a file
    recent = ExportFactory(done=True)
    Export.objects.filter(pk__in=[old_done.pk, old_failed.pk]).update(
        created=timezone.now() - timedelta(days=8)
    )

    assert export_cleanup() == 2

    assert list(Export.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not default_storage.exists(path)
