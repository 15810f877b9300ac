"""tenant_apps/exports/selectors.py: which exports have a file to serve, on local disk."""

from __future__ import annotations

import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tenant_apps.exports.selectors import CSV_CONTENT_TYPE, export_file_get, export_filename
from tenants.storage import tenant_path
from tests.factories import ExportFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_finished_export_is_streamed_from_disk(in_alpha):
    path = default_storage.save(tenant_path("exports", "done.csv"), ContentFile(b"id\n1\n"))
    export = ExportFactory(done=True, file_path=path)
    found = export_file_get(export=export)
    assert found is not None and found.redirect_url is None
    assert (found.filename, found.content_type) == (export_filename(export), CSV_CONTENT_TYPE)
    with found.stream as stream:
        assert stream.read() == b"id\n1\n"


def test_no_file_unless_done_inside_the_prefix_and_present(in_alpha, beta):
    path = default_storage.save(tenant_path("exports", "x.csv"), ContentFile(b"x"))
    assert export_file_get(export=ExportFactory(file_path=path)) is None  # pending
    assert export_file_get(export=ExportFactory(failed=True, file_path=path)) is None
    foreign = f"tenants/{beta.schema_name}/exports/x.csv"
    assert export_file_get(export=ExportFactory(done=True, file_path=foreign)) is None
    gone = tenant_path("exports", "gone.csv")
    assert export_file_get(export=ExportFactory(done=True, file_path=gone)) is None


def test_a_file_deleted_between_the_check_and_the_open_is_no_file(in_alpha, media):
    """A dangling symlink: the name exists (``exists`` is True) and ``open`` finds no
    file, as when clean-up deletes it between the two calls."""
    path = tenant_path("exports", "racing.csv")
    (media / path).parent.mkdir(parents=True)
    os.symlink(media / "nowhere.csv", media / path)
    assert default_storage.exists(path)
    assert export_file_get(export=ExportFactory(done=True, file_path=path)) is None
