"""The import pages: upload, the dry run's preview, confirm, the report; and the task in a real worker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from coe.celery import app
from incidents.models import ImportJob, Incident

from .factories import UserFactory
from .support.servers import Broker, database_url

FIXTURES = Path(__file__).parent / "fixtures" / "postmortems"
ROOT = Path(__file__).resolve().parent.parent
CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "coe", "worker", "--pool=solo", "--loglevel=WARNING"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, name: str, data: bytes, **fields):
    return client.post("/incidents/imports/", {"file": SimpleUploadedFile(name, data), **fields})


@pytest.mark.django_db
class TestAccess:
    def test_leadership_and_people_without_a_role_are_refused(self, client_for, leader):
        assert client_for(leader).get("/incidents/imports/").status_code == 403
        nobody = UserFactory(username="nobody")
        assert client_for(nobody).get("/incidents/imports/").status_code == 403

    def test_signed_out_people_are_sent_to_log_in(self, client):
        response = client.get("/incidents/imports/")
        assert response.status_code == 302
        assert "/login" in response["Location"]

    def test_reviewers_and_approvers_may_import(self, client_for, reviewer, approver):
        assert client_for(reviewer).get("/incidents/imports/").status_code == 200
        assert client_for(approver).get("/incidents/imports/").status_code == 200

    def test_someone_elses_import_is_not_found(self, client_for, reviewer, outsider):
        job = ImportJob.objects.create(created_by=reviewer, format="markdown")
        assert client_for(outsider).get(f"/incidents/imports/{job.pk}/").status_code == 404
        assert client_for(outsider).post(f"/incidents/imports/{job.pk}/confirm/").status_code == 404
        assert client_for(outsider).get(f"/incidents/imports/{job.pk}/report.json").status_code == 404

    def test_our_json_export_is_offered_to_admins_only(self, client_for, reviewer):
        assert b'value="json"' not in client_for(reviewer).get("/incidents/imports/").content
        # Nor taken by its extension.
        response = upload(client_for(reviewer), "export.json", b"{}")
        assert response.status_code == 422
        assert "only an admin can import it" in response.content.decode()
        assert not ImportJob.objects.exists()
        admin = UserFactory(username="root", is_superuser=True, is_staff=True)
        assert b'value="json"' in client_for(admin).get("/incidents/imports/").content


@pytest.mark.django_db
def test_upload_preview_confirm_then_the_same_file_again_creates_nothing(
    client_for, reviewer, media, django_capture_on_commit_callbacks
):
    client = client_for(reviewer)
    data = (FIXTURES / "sre-style.md").read_bytes()
    # The task runs in the request's commit (eagerly in the tests; a worker in production).
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "sre-style.md", data)
    preview = ImportJob.objects.get()
    assert response["Location"] == f"/incidents/imports/{preview.pk}/"
    assert Path(preview.upload.path).is_relative_to(media)
    assert (preview.dry_run, preview.state, preview.format) == (True, "done", "markdown")
    assert Incident.objects.count() == 0

    page = client.get(response["Location"]).content.decode()
    assert "What the import would do" in page
    assert "would create <strong>1</strong>" in page
    assert "Kept as notes: Front matter, Glossary of terms we use" in page
    assert "## Five Whys → whys" in page
    assert "Import 1 postmortem</button>" in page
    assert "hx-trigger" not in page  # finished: nothing polls

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(f"/incidents/imports/{preview.pk}/confirm/")
    job = ImportJob.objects.exclude(pk=preview.pk).get()
    assert confirmed["Location"] == f"/incidents/imports/{job.pk}/"
    assert (job.dry_run, job.state, job.created_count) == (False, "done", 1)
    incident = Incident.objects.get()
    page = client.get(confirmed["Location"]).content.decode()
    assert f'href="/incidents/{incident.key}/">{incident.key}</a>' in page
    # Confirming twice (a second tab) starts nothing more.
    client.post(f"/incidents/imports/{preview.pk}/confirm/")
    assert ImportJob.objects.count() == 2
    assert "This preview was confirmed" in client.get(f"/incidents/imports/{preview.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        again = upload(client, "sre-style.md", data)
    page = client.get(again["Location"]).content.decode()
    assert "unchanged <strong>1</strong>" in page
    assert "Nothing to import" in page
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_while_running_the_page_polls_and_htmx_gets_the_progress_alone(client_for, reviewer):
    job = ImportJob.objects.create(created_by=reviewer, format="markdown", state="running", total=40, processed=10)
    client = client_for(reviewer)
    page = client.get(f"/incidents/imports/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert '<progress id="import-bar" max="40" value="10"' in page
    fragment = client.get(f"/incidents/imports/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="import-progress"')
    assert "10 of 40 postmortems (25%)" in fragment
    assert "<html" not in fragment


@pytest.mark.django_db
def test_a_file_of_no_known_kind_must_say_its_format(client_for, reviewer):
    response = upload(client_for(reviewer), "notes.docx", b"PK\x03\x04")
    assert response.status_code == 422
    assert "names no format we read" in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db
def test_a_csv_upload_goes_to_its_columns_step(client_for, reviewer):
    response = upload(client_for(reviewer), "incidents.csv", b"Title,Date\nOutage,2024-01-02\n")
    job = ImportJob.objects.get()
    assert response["Location"] == f"/incidents/imports/{job.pk}/columns/"
    assert job.state == "pending"


@pytest.mark.django_db
def test_the_upload_page_lists_recent_imports_in_a_fixed_number_of_queries(
    client_for, reviewer, django_assert_num_queries
):
    client = client_for(reviewer)
    ImportJob.objects.create(created_by=reviewer, format="markdown")
    # 1 session, 2 user, 3 may the user import (their role groups), 4 the navigation's review
    # queue, 5 the user's recent imports.
    with django_assert_num_queries(5):
        client.get("/incidents/imports/")
    for _ in range(5):
        ImportJob.objects.create(created_by=reviewer, format="markdown")
    with django_assert_num_queries(5):
        client.get("/incidents/imports/")


@pytest.mark.django_db
def test_the_whole_report_downloads_as_json(client_for, reviewer):
    job = ImportJob.objects.create(
        created_by=reviewer, format="markdown", report=[{"origin": "a.md", "action": "create", "warnings": []}]
    )
    response = client_for(reviewer).get(f"/incidents/imports/{job.pk}/report.json")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == [{"origin": "a.md", "action": "create", "warnings": []}]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_import_task(tmp_path, media):
    """The task through the broker the settings configure and a `celery worker` process."""
    from django.core.files.base import ContentFile

    # A transactional test's database is emptied afterwards, the role groups too: no role needed here.
    admin = UserFactory(username="root", is_superuser=True)
    job = ImportJob(created_by=admin, format="", dry_run=False, original_name="sre-style.md")
    job.upload.save("sre-style.md", ContentFile((FIXTURES / "sre-style.md").read_bytes()))
    broker = Broker(tmp_path)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "coe.settings",
        "ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(media),
        "STATIC_MANIFEST": "false",
        **broker.env,
    }
    worker = subprocess.Popen(
        [*CELERY_WORKER, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task("incidents.run_import", args=[job.pk], connection=broker.connection)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state in ("done", "failed"):
                break
            time.sleep(0.5)
        assert (job.state, job.created_count) == ("done", 1)
        assert Incident.objects.get().external_id == "PM-2024-017"
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        broker.close()
