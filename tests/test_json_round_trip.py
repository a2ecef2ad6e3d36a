"""The JSON export restores losslessly: exported, imported into an empty database and exported again,
the seeded knowledge base and a thousand generated incidents give the same document, byte for byte."""

import json
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from incidents.exports.export import export_knowledge_base
from incidents.exports.selection import whole_database_reader
from incidents.generate import generate
from incidents.imports.json_format import DocumentError, import_file, read_document
from incidents.imports.json_loader import load
from incidents.models import CoeDocument, Incident, IncidentKeyCounter, ReviewComment
from incidents.roles import ROLES
from incidents.seed import loader

pytestmark = pytest.mark.django_db

User = get_user_model()
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # the same stamp on both exports


def _export() -> bytes:
    export = export_knowledge_base(user=whole_database_reader(), format="json", exported_at=STAMP)
    return b"".join(export.chunks)


def _empty_the_database() -> None:
    """Every row of the app and every account and group, as in a database just created (the test's
    transaction brings them back afterwards). Content types and permissions stay: migrate makes those."""
    introspection = connection.introspection
    tables = [model._meta.db_table for model in introspection.installed_models(introspection.table_names())]
    keep = {"django_content_type", "auth_permission", "django_migrations"}
    with connection.cursor() as cursor:
        # Django's foreign keys are checked at commit; what the test wrote is checked now, so the tables
        # hold no pending checks TRUNCATE would refuse.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {', '.join(t for t in tables if t not in keep)} CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_seed_and_a_thousand_generated_incidents_round_trip(tmp_path):
    loader.load()
    generate(incidents=1000, seed=3, batch=1000)
    # Neither the seed nor the generator writes review comments: a thread, answered and resolved.
    coe = CoeDocument.objects.filter(incident__external_id__startswith="seed:").order_by("incident__key").first()
    reviewer, approver = (User.objects.get(username=name) for name in ("reviewer", "approver"))
    question = ReviewComment.objects.create(coe=coe, section="root_cause", author=approver, body="Which plan?")
    ReviewComment.objects.create(
        coe=coe,
        section="root_cause",
        author=reviewer,
        body="The stale one.",
        reply_to=question,
        resolved_at=STAMP,
        resolved_by=approver,
    )
    first = _export()
    document = json.loads(first)
    [thread] = [i["coe"]["review_comments"] for i in document["incidents"] if i["key"] == coe.incident.key]
    assert [(c["body"], c["reply_to"], c["resolved_by"]) for c in thread] == [
        ("Which plan?", None, None),
        ("The stale one.", 0, "approver"),
    ]
    assert len(document["incidents"]) == Incident.objects.count() > 1000

    _empty_the_database()
    assert Incident.objects.count() == 0
    assert not Group.objects.exists()
    path = tmp_path / "kb.json"
    path.write_bytes(first)
    result = import_file(path)

    assert len(result.created) == len(document["incidents"])
    assert result.present == []
    assert _export() == first
    # The next public incident of a year takes the number after the restored ones.
    year = max(int(key.split("-")[1]) for key in result.created if key.startswith("INC-"))
    assert IncidentKeyCounter.objects.get(year=year).last == max(
        int(key.split("-")[2]) for key in result.created if key.startswith(f"INC-{year}-")
    )
    # The role groups come back with their permissions.
    assert all(Group.objects.get(name=role).permissions.exists() for role in ROLES)

    # Again: nothing new, nothing changed.
    again = import_file(path)
    assert again.created == []
    assert len(again.present) == len(document["incidents"])
    assert _export() == first


def _small_document(**changes) -> dict:
    """A one-incident export of a factory incident with an action item, as a document."""
    from .factories import ActionItemFactory, SourceFactory

    item = ActionItemFactory(title="Reject empty DNS plans", source=SourceFactory())
    item.incident.sources.add(item.source)
    document = json.loads(_export())
    document.update(changes)
    return document


def test_a_dry_run_counts_and_writes_nothing():
    document = _small_document()
    _empty_the_database()
    result = load(document, origin="kb.json", dry_run=True)
    assert len(result.created) == 1
    assert result.lookups_created["sources"] == 1
    assert not Incident.objects.exists()
    assert not Group.objects.exists()


def test_a_bad_record_fails_the_file_with_its_reason_and_writes_nothing():
    document = _small_document()
    _empty_the_database()
    document["incidents"][0]["action_items"][0]["priority"] = "P9"
    key = document["incidents"][0]["key"]
    with pytest.raises(DocumentError, match=f"{key}: action item 'Reject empty DNS plans': priority"):
        load(document, origin="kb.json")
    assert not Incident.objects.exists()
    assert not Group.objects.exists()


def test_a_file_names_what_it_holds():
    document = _small_document()
    _empty_the_database()
    document["incidents"][0]["sources"] = ["https://nowhere.example.com/"]
    named = re.escape("source 'https://nowhere.example.com/' is named but not in the file")
    with pytest.raises(DocumentError, match=named):
        load(document, origin="kb.json")


@pytest.mark.parametrize(
    "break_it",
    [
        lambda incident: incident.pop("title"),
        lambda incident: incident.update(timeline="14:05 errors"),
        lambda incident: incident.update(started_at="yesterday"),
    ],
)
def test_a_malformed_record_fails_the_file(break_it):
    document = _small_document()
    _empty_the_database()
    break_it(document["incidents"][0])
    with pytest.raises(DocumentError, match="A record is malformed"):
        load(document, origin="kb.json")
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "Not JSON"),
        (b'{"format": "something-else"}', "Not a COE Tracker export"),
        (b'{"format": "coe-tracker-export", "version": 2}', "Export version 2; this version reads version 1"),
        (b'{"format": "coe-tracker-export", "version": 1, "incidents": {}}', '"incidents" must be a list'),
    ],
)
def test_what_is_not_an_export_is_refused(data, reason):
    with pytest.raises(DocumentError, match=reason):
        read_document(data)


def test_a_key_taken_by_another_incident_is_refused(tmp_path):
    document = _small_document()
    key = document["incidents"][0]["key"]
    Incident.objects.filter(key=key).update(external_id="another-system-42")
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(document))
    before = Incident.objects.count()
    with pytest.raises(DocumentError, match=f"{key}: this key is another incident's here"):
        import_file(path)
    assert Incident.objects.count() == before


def test_the_command(tmp_path, capsys):
    document = _small_document()
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(document))
    _empty_the_database()
    call_command("import_json", str(path), "--dry-run")
    assert "Would create 1 incidents; 0 already here." in capsys.readouterr().out
    call_command("import_json", str(path))
    assert "Created 1 incidents; 0 already here." in capsys.readouterr().out
    again = import_file(path)
    [entry] = again.report_entries()
    assert entry == {
        "origin": "kb.json",
        "key": document["incidents"][0]["key"],
        "action": "unchanged",
        "title": document["incidents"][0]["title"],
        "external_id": None,
    }
    assert Incident.objects.get().key == document["incidents"][0]["key"]
