"""The import runner and its write path: dry runs, one transaction per file, idempotence, history kept honest."""

import io
import json
import shutil
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents import metrics
from incidents.imports.runner import run_job
from incidents.models import ActionItem, CoeDocument, CoeRevision, ImportJob, Incident, TimelineEvent
from incidents.models.vocab import ActionStatus, CoeStatus
from incidents.services import coe_quality

from .factories import ActionItemFactory, CoeDocumentFactory, IncidentFactory, UserFactory

FIXTURES = Path(__file__).parent / "fixtures" / "postmortems"
SRE = FIXTURES / "sre-style.md"


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run(*paths, user=None, dry_run=False) -> ImportJob:
    job = ImportJob.objects.create(created_by=user, dry_run=dry_run, options={"paths": [str(p) for p in paths]})
    return run_job(job)


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Incident, CoeDocument, CoeRevision, TimelineEvent, ActionItem))


@pytest.mark.django_db
def test_a_dry_run_previews_every_file_and_writes_nothing(reviewer):
    before = counts()
    job = run(FIXTURES, user=reviewer, dry_run=True)
    assert counts() == before
    by_origin = {entry["origin"]: entry for entry in job.report}
    sre = by_origin["postmortems/sre-style.md"]
    assert sre["action"] == "create"
    assert "key" not in sre  # nothing was given a key
    assert ["## Five Whys", "whys"] in sre["mapped"]
    assert sre["notes"] == ["Front matter", "Glossary of terms we use"]
    assert (job.state, job.total, job.processed) == ("done", 9, 9)
    assert (job.created_count, job.failed_count) == (7, 2)


@pytest.mark.django_db
def test_a_bad_file_fails_alone_with_its_reason_and_the_rest_import(reviewer):
    job = run(FIXTURES, user=reviewer)
    failed = {entry["origin"]: entry["reason"] for entry in job.report if entry["action"] == "failed"}
    assert failed == {
        "postmortems/bad-front-matter.md": "The front matter is not valid YAML: while parsing a flow sequence",
        "postmortems/no-date.md": (
            "No start date: give one in the front matter (start_time or date), a dated timeline line, "
            "or a date in the file's name."
        ),
    }
    assert Incident.objects.count() == job.created_count == 7
    assert Incident.objects.filter(imported_at__isnull=False).count() == 7


@pytest.mark.django_db
def test_an_imported_postmortem_keeps_its_dates_and_is_marked_imported(reviewer):
    before_import = timezone.now()
    run(FIXTURES / "front-matter" / "9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11.md", user=reviewer)
    incident = Incident.objects.get(external_id="9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11")
    assert incident.imported_at >= before_import
    assert incident.import_origin == "9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11.md"
    # Written on the day the front matter says, not today.
    assert incident.created_at == at(2014, 12, 17)
    assert incident.coe.created_at == at(2014, 12, 17)
    assert (incident.started_at, incident.resolved_at) == (at(2014, 11, 18, 0, 50), at(2014, 11, 18, 11, 0))
    assert (incident.owner, incident.primary_cause, incident.severity) == (reviewer, "change_config", "SEV3")
    assert list(incident.tags.values_list("name", flat=True).order_by("name")) == [
        "blob-storage",
        "cascading-failure",
        "config-change",
        "example-cloud",
        "performance-update",
    ]
    # L12 does not judge a postmortem drafted in another tool.
    l12 = coe_quality(incident.coe).get("L12")
    assert l12.passed
    assert l12.info == ("Not judged: imported",)


@pytest.mark.django_db
def test_sections_events_items_and_notes_are_all_kept(reviewer):
    run(SRE, user=reviewer)
    incident = Incident.objects.get(external_id="PM-2024-017")
    coe = incident.coe
    assert coe.impact == "An estimated 1.21B queries were lost; no revenue impact."
    assert coe.whys[0]["links"][0] == "Why were the servers crashing? Because the file descriptors ran out."
    # What maps to no section is kept verbatim under a heading of its own.
    assert coe.related_items.startswith("## Imported notes\n\n### Front matter\n\n```yaml\nreviewers:")
    assert coe.related_items.endswith("### Glossary of terms we use\n\nSonnet: a poem.")
    # The lines' milestones are the incident's, each with the file's words; the rest are context.
    events = list(incident.timeline.values_list("occurred_at", "precision", "kind", "description"))
    assert (at(2024, 3, 1, 22, 12), "minute", "detection", "Alert fired: pager goes off for the on-call") in events
    assert (at(2024, 3, 3), "day", "context", "Vendor notified of the bug") in events
    assert incident.detected_at == at(2024, 3, 1, 22, 12)
    assert incident.mitigated_at == at(2024, 3, 1, 22, 30)
    # The front matter's date (to the day) is refined by the timeline's start line that day (in PDT).
    assert (incident.started_at, incident.time_precision) == (at(2024, 3, 1, 22, 5), "minute")
    assert (at(2024, 3, 1, 22, 5), "minute", "start", "OUTAGE BEGINS: search backends start melting down") in events
    assert len(events) == 9
    items = {item.title[:20]: item for item in incident.action_items.all()}
    fixed = items["Fix the file descrip"]
    assert (fixed.status, fixed.created_at, fixed.completed_at) == (ActionStatus.DONE, at(2024, 3, 2), at(2024, 3, 5))
    assert fixed.completed_by == reviewer
    # With no date of its own, an item is raised when the postmortem was written (here: its start).
    playbook = items["Update playbook with"]
    assert (playbook.action_type, playbook.created_at, playbook.completed_at) == ("mitigate", at(2024, 3, 1), None)
    # "jennifer" is nobody here: kept in the text.
    assert playbook.owner is None
    assert playbook.description == "Owner: jennifer"
    assert items["Rewrite the corpus u"].status == ActionStatus.WONT_DO


@pytest.mark.django_db
def test_importing_the_same_files_again_creates_nothing_and_changed_content_updates(reviewer, tmp_path):
    folder = tmp_path / "pms"
    shutil.copytree(FIXTURES, folder)
    first = run(folder, user=reviewer)
    snapshot = counts()
    again = run(folder, user=reviewer)
    assert counts() == snapshot
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, first.created_count)

    changed = folder / "sre-style.md"
    changed.write_text(changed.read_text().replace("no revenue impact", "no revenue impact at all"))
    third = run(folder, user=reviewer)
    assert (third.created_count, third.updated_count) == (0, 1)
    incident = Incident.objects.get(external_id="PM-2024-017")
    assert incident.coe.impact.endswith("no revenue impact at all.")
    # No event or item twice; the COE's revisions keep what it said before.
    assert counts()[3:] == snapshot[3:]
    assert incident.coe.revisions.count() == 2


@pytest.mark.django_db
def test_an_approved_coe_is_not_overwritten_by_a_reimport(reviewer, tmp_path):
    path = tmp_path / "pm.md"
    path.write_text("---\nid: X-1\ndate: 2023-01-05\n---\n# X\n\n## Impact\n\nSome.\n")
    run(path, user=reviewer)
    CoeDocument.objects.filter(incident__external_id="X-1").update(status=CoeStatus.APPROVED)
    path.write_text(path.read_text().replace("Some.", "More."))
    job = run(path, user=reviewer)
    assert job.report[0]["reason"] == "Its COE is approved here: reopen it before importing the file again."
    assert CoeDocument.objects.get(incident__external_id="X-1").impact == "Some."


@pytest.mark.django_db
def test_an_id_used_by_an_incident_entered_here_is_refused(reviewer, tmp_path):
    IncidentFactory(external_id="X-2")
    path = tmp_path / "pm.md"
    path.write_text("---\nid: X-2\ndate: 2023-01-05\n---\n# X\n")
    job = run(path, user=reviewer)
    assert job.report[0]["reason"] == "Another incident already uses the id 'X-2'."


@pytest.mark.django_db
def test_a_zip_is_read_member_by_member(reviewer, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(SRE, "team/2024/sre-style.md")
        archive.write(FIXTURES / "no-date.md", "team/no-date.md")
        archive.writestr("__MACOSX/team/._sre-style.md", b"\x00\x05")
        archive.writestr("team/picture.png", b"\x89PNG")
    from django.core.files.base import ContentFile

    job = ImportJob(created_by=reviewer, dry_run=False, original_name="old.zip")
    job.upload.save("old.zip", ContentFile(buffer.getvalue()))
    run_job(job)
    assert [(e["origin"], e["action"]) for e in job.report] == [
        ("old.zip/team/2024/sre-style.md", "create"),
        ("old.zip/team/no-date.md", "failed"),
    ]


def _dashboard(user, today):
    figures = metrics.compute_dashboard_metrics(user, metrics.Scope(), today=today)
    timeliness = dict(figures["coe_timeliness"])
    imported = timeliness.pop("imported_not_judged")
    return timeliness, figures["action_items"]["burn_down"], imported


@pytest.mark.django_db
def test_the_dashboard_reads_the_same_after_importing_old_postmortems(reviewer, tmp_path, settings):
    """COE timeliness leaves imported incidents out; the open-items chart sees their items when they
    were raised and closed, so nothing jumps on import day."""
    today = timezone.localdate()
    now = timezone.now()
    resolved = IncidentFactory(started_at=now - timedelta(days=40), resolved_at=now - timedelta(days=39))
    CoeDocumentFactory(incident=resolved, approved_at=now - timedelta(days=30))
    IncidentFactory(started_at=now - timedelta(days=20), resolved_at=now - timedelta(days=19))
    ActionItemFactory(incident=resolved, created_at=now - timedelta(days=35))
    before = _dashboard(reviewer, today)

    # Old postmortems (2014-2024) whose items the files show closed.
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(FIXTURES / "front-matter" / "9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11.md", folder)
    (folder / "pm.md").write_text(
        "---\nid: OLD-1\nstart_time: 2019-06-01T10:00:00Z\nend_time: 2019-06-01T12:00:00Z\n---\n# Old\n\n"
        "## Action items\n\n- [x] Add a canary (opened 2019-06-02, done 2019-07-01)\n- [x] Fix the limit\n"
    )
    job = run(folder, user=reviewer)
    assert job.created_count == 2

    after = _dashboard(reviewer, today)
    assert after[:2] == before[:2]
    assert (before[2], after[2]) == (0, 2)
    # Figures that count incidents by month do see the imported ones, in their own months.
    months = metrics.compute_dashboard_metrics(reviewer, metrics.Scope(), today=today)["incidents_by_month"]
    assert {m["month"][:7] for m in months if m["total"]} >= {"2014-11", "2019-06"}


@pytest.mark.django_db
def test_an_open_item_counts_from_when_it_was_raised_not_from_import_day(reviewer, tmp_path):
    path = tmp_path / "pm.md"
    path.write_text("---\nid: OLD-2\ndate: 2024-01-10\n---\n# Old\n\n## Action items\n\n- Still to do\n")
    run(path, user=reviewer)
    item = ActionItem.objects.get(title="Still to do")
    assert item.created_at == at(2024, 1, 10)
    early_2024 = metrics.Scope(period=metrics.Period(date(2024, 1, 1), date(2024, 3, 1)))
    figures = metrics.compute_dashboard_metrics(reviewer, early_2024, today=timezone.localdate())
    assert figures["action_items"]["burn_down"] == [
        {"date": "2024-01-31", "open": 1},
        {"date": "2024-02-29", "open": 1},
    ]


@pytest.mark.django_db
def test_the_command_shows_progress_and_each_file(reviewer, capsys, tmp_path):
    report = tmp_path / "report.json"
    call_command("import_postmortems", str(FIXTURES), "--dry-run", "--user", reviewer.username, "--report", str(report))
    out, err = capsys.readouterr()
    assert "9/9 100%" in err
    assert "would create  postmortems/sre-style.md" in out
    assert "kept as notes: Front matter, Glossary of terms we use" in out
    assert "Dry run: 9 postmortems in" in out
    assert "created 7, updated 0, unchanged 0, failed 2" in out
    assert len(json.loads(report.read_text())) == 9
    assert Incident.objects.count() == 0


def test_the_command_refuses_a_path_that_does_not_exist(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No such file or folder: /nowhere"):
        call_command("import_postmortems", "/nowhere")


@pytest.mark.django_db
def test_the_dates_kept_are_the_files_even_for_a_date_only_start(reviewer, tmp_path):
    path = tmp_path / "2021-04-09-outage.md"
    path.write_text("# Outage\n\nNo date in here.\n")
    run(path, user=reviewer)
    incident = Incident.objects.get(title="Outage")
    assert (incident.started_at, incident.time_precision) == (at(2021, 4, 9), "day")
    assert incident.started_at.date() == date(2021, 4, 9)


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_import_the_same_as_one():
    # A transactional test's database is emptied afterwards, the role groups too: no role needed here.
    admin = UserFactory(username="root", is_superuser=True)
    job = ImportJob.objects.create(created_by=admin, dry_run=False, options={"paths": [str(FIXTURES)]})
    run_job(job, workers=2)
    # The report keeps the files' order, whichever process wrote each.
    assert [entry["origin"] for entry in job.report] == sorted(entry["origin"] for entry in job.report)
    assert (job.created_count, job.failed_count, job.processed) == (7, 2, 9)
    assert Incident.objects.filter(imported_at__isnull=False).count() == 7
    assert sorted(Incident.objects.values_list("key", flat=True)) == sorted(
        entry["key"] for entry in job.report if entry["action"] == "create"
    )


@pytest.mark.django_db
def test_the_dashboard_page_shows_imported_coes_apart(client_for, reviewer, leader):
    run(FIXTURES / "front-matter" / "9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11.md", user=reviewer)
    page = client_for(leader).get("/dashboard/?period=all").content.decode()
    assert "Imported from earlier tools, not judged" in page
    listed = client_for(leader).get("/dashboard/incidents/?period=all&subset=coe&value=imported_not_judged")
    assert "Storage outage after a configuration change" in listed.content.decode()
