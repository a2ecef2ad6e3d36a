"""generate_data: the same seed gives the same rows, and the rows look like real incidents.

Small counts only; the 100,000-incident run belongs to `make bench`.
"""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from incidents import generate as generate_module
from incidents import repeats
from incidents.generate import END, _may_skip_row_checks, _Repeats, _Table, _tables, fingerprint, generate
from incidents.models import (
    ActionItem,
    AIInvolvement,
    Claim,
    CoeDocument,
    Incident,
    IncidentKeyCounter,
    Source,
    TimelineEvent,
)
from incidents.models import vocab as v

from .factories import IncidentFactory
from .support.repeats import expected_flags, stored_flags

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _fingerprint_of(**kwargs) -> dict:
    """Generate, fingerprint, and roll the rows back, as if into a fresh database."""
    try:
        with transaction.atomic():
            generate(**kwargs)
            found = fingerprint()
            raise _Undo
    except _Undo:
        pass
    return found


def test_same_seed_same_rows_whatever_the_batch():
    first = _fingerprint_of(incidents=30, seed=1)
    assert Incident.objects.count() == 0  # rolled back
    assert _fingerprint_of(incidents=30, seed=1) == first
    assert _fingerprint_of(incidents=30, seed=1, batch=7) == first


def test_seed_one_gives_the_rows_it_always_gave():
    # Pinned from the generator as it was before it was made faster, which had to keep drawing
    # exactly the same numbers. A change meant to alter the rows updates these.
    found = _fingerprint_of(incidents=30, seed=1)
    assert found["counts"]["incidents_timelineevent"] == 297
    assert found["counts"]["incidents_actionitem"] == 89
    assert found["incidents"] == "6cae7efc372ed51e6759d7ed65113b971aba74159ea7c7ec59144462253ccd69"
    assert found["timeline"] == "0040d2126ea30f4dec6ae5e4dfb7cda15fd2293934e9dc0b0ec69dfb908ed28a"
    assert found["action_items"] == "49ed7d07233d631bf29f60fbde135c872d96162049aa79115f58caa6d087b3aa"
    assert found["coes"] == "18bc922351be17cf8c6b4dde72f98777bc457a7339a60775effe3457d5213e2e"


def test_another_seed_other_rows():
    one, two = _fingerprint_of(incidents=30, seed=1), _fingerprint_of(incidents=30, seed=2)
    assert one["incidents"] != two["incidents"]
    assert one["timeline"] != two["timeline"]
    assert one["action_items"] != two["action_items"]


@pytest.fixture(scope="class")
def generated(django_db_setup, django_db_blocker):
    """200 incidents, generated once per class and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        result = generate(incidents=200, seed=1)
        yield result
        transaction.set_rollback(True)


class TestShape:
    def test_shape(self, generated):
        incidents = Incident.objects.count()
        assert incidents == 200
        assert generated.rows["incident"] == 200
        # About ten timeline events and three action items per incident.
        assert 8 <= TimelineEvent.objects.count() / incidents <= 12
        assert 2.5 <= ActionItem.objects.count() / incidents <= 3.5
        # A COE for most, with real-length prose and whys.
        coes = CoeDocument.objects.count()
        assert 0.7 <= coes / incidents <= 0.9
        published = CoeDocument.objects.filter(status=v.CoeStatus.PUBLISHED).first()
        assert len(published.root_cause.split()) > 40
        assert published.summary
        assert published.lessons_went_wrong
        assert published.whys
        assert all(chain["links"] for chain in published.whys)
        assert published.approver_id
        assert not published.authors.filter(pk=published.approver_id).exists()
        assert set(CoeDocument.objects.values_list("status", flat=True)) >= {v.CoeStatus.PUBLISHED, v.CoeStatus.DRAFT}
        # AI involvement on a share, sources and claims on others.
        ai = Incident.objects.ai_involved().count()
        assert 0.08 <= ai / incidents <= 0.25
        assert AIInvolvement.objects.exists()
        assert Claim.objects.exists()
        assert Source.objects.exists()

    def test_restricted_incidents_have_a_group(self, generated):
        restricted = Incident.objects.filter(restricted=True)
        assert restricted.exists()
        assert not restricted.filter(access_group__isnull=True).exists()
        assert restricted.count() < 20

    def test_dates_span_five_years_up_to_the_end(self, generated):
        first = Incident.objects.order_by("started_at").first().started_at
        last = Incident.objects.order_by("started_at").last().started_at
        assert last.date() <= END
        assert last - first > timedelta(days=3 * 365)
        assert not Incident.objects.filter(resolved_at__lt=F("started_at")).exists()
        assert not Incident.objects.filter(resolved_at__date__gt=END).exists()

    def test_open_overdue_and_done_items(self, generated):
        today = END
        items = ActionItem.objects.all()
        assert items.overdue(today).exists()
        assert items.open().filter(due_date__gte=today).exists()
        assert items.filter(status__in=v.ACTION_STATUSES_CLOSED, completed_at__isnull=False).exists()
        assert not items.filter(status__in=v.ACTION_STATUSES_CLOSED, completed_at__isnull=True).exists()
        # Owners hold a mix, as the reminder sweep sees it.
        owner = items.overdue(today).values_list("owner", flat=True).first()
        assert items.filter(owner=owner).exclude(status__in=v.ACTION_STATUSES_OPEN).exists()

    def test_repeat_flags_set_in_one_pass_at_the_end(self, generated):
        # The bulk load sets the repeat flags in one pass at its end: each incident's as computed afresh.
        flags = stored_flags()
        assert flags == expected_flags()
        assert any(a for a, _ in flags.values())

    def test_keys_unique_well_formed_and_numbered_per_year(self, generated):
        rows = list(Incident.objects.values_list("key", "started_at", "restricted"))
        keys = [key for key, _, _ in rows]
        assert len(set(keys)) == len(keys)
        by_year: dict[int, list[int]] = {}
        for key, started_at, restricted in rows:
            if restricted:
                # Opaque, and no number of the public series (incidents/models/keys.py).
                assert re.fullmatch(rf"RST-{started_at.year}-[0-9A-HJKMNP-TV-Z]{{8}}", key), key
                continue
            match = re.fullmatch(r"INC-(\d{4})-(\d{4,})", key)
            assert match, key
            assert int(match[1]) == started_at.year
            by_year.setdefault(started_at.year, []).append(int(match[2]))
        for year, numbers in by_year.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))
            # The app's counter moved on with them.
            assert IncidentKeyCounter.objects.get(year=year).last == len(numbers)


def test_repeat_flags_made_with_the_rows(monkeypatch):
    # The generator works the flags out as it makes the incidents: the rebuild at the end has
    # nothing to correct in a fresh database.
    monkeypatch.setattr(repeats, "rebuild", lambda: 0)
    generate(incidents=300, seed=5)
    flags = stored_flags()
    assert flags == expected_flags()
    assert any(a for a, _ in flags.values())


def test_repeat_flags_follow_the_definition():
    day = datetime(2025, 1, 1, tzinfo=UTC)
    made = _Repeats()
    assert made.flags(day, "change_code", [1], True) == (False, False)
    # The same moment is not earlier; a restricted earlier one counts for repeat_any only.
    assert made.flags(day, "change_code", [1, 2], False) == (False, False)
    assert made.flags(day + timedelta(hours=1), "change_code", [3, 1], False) == (True, True)
    assert made.flags(day + timedelta(hours=2), "change_config", [1], False) == (False, False)
    assert made.flags(day + timedelta(hours=3), "undetermined", [1], False) == (False, False)
    assert made.flags(day + timedelta(hours=4), "undetermined", [1], False) == (False, False)
    hidden = _Repeats()
    hidden.flags(day, "deploy", [7], True)
    assert hidden.flags(day + timedelta(days=1), "deploy", [7, 8], False) == (True, False)
    assert hidden.flags(day + timedelta(days=2), "deploy", [8], True) == (True, True)
    # 90 days back is still in the window (the restricted one of day 2), a second more is not.
    assert hidden.flags(day + timedelta(days=92), "deploy", [8], False) == (True, False)
    assert hidden.flags(day + timedelta(days=182, seconds=1), "deploy", [8], False) == (False, False)


def test_keys_continue_after_existing_ones():
    IncidentFactory(started_at=datetime(END.year, 1, 5, tzinfo=UTC))
    existing = Incident.objects.get().key
    generate(incidents=40, seed=3)
    year = existing.split("-")[1]
    numbers = sorted(
        int(k.split("-")[2])
        for k in Incident.objects.filter(key__startswith=f"INC-{year}-").values_list("key", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    # The app can still add incidents afterwards: the sequences moved past the generated ids.
    generated_ids = set(Incident.objects.values_list("pk", flat=True))
    added = IncidentFactory(started_at=datetime(END.year, 6, 1, tzinfo=UTC))
    assert added.pk > max(generated_ids)
    assert added.key == f"INC-{year}-{len(numbers) + 1:04d}"


def test_command_prints_progress():
    out = StringIO()
    call_command("generate_data", "--incidents", "5", "--seed", "4", "--batch", "2", stdout=out)
    text = out.getvalue()
    assert "2/5 incidents" in text
    assert "5/5 incidents" in text
    assert re.search(r"Generated \d+ rows for 5 incidents", text)
    assert Incident.objects.count() == 5


@pytest.mark.django_db(transaction=True)
class TestWrittenWhileTheNextBatchIsBuilt:
    """Outside a transaction, threads write the batches on connections of their own."""

    def test_the_same_rows_as_one_connection_gives(self):
        expected = _fingerprint_of(incidents=40, seed=3, batch=9)  # in a transaction: one connection
        with CaptureQueriesContext(connection) as main:
            result = generate(incidents=40, seed=3, batch=9)
        assert fingerprint() == expected
        assert result.rows["incident"] == Incident.objects.count() == 40
        # The batches, and the sequence moves after each, went through the writer's connection.
        assert not any("setval" in q["sql"] for q in main.captured_queries)

    def test_a_batch_that_fails_stops_the_run_with_its_error(self, monkeypatch):
        write = _Table.write

        def fails_in_the_third_batch(table, rows):
            if table.name == Incident._meta.db_table and Incident.objects.count() >= 20:
                raise RuntimeError("disk full")
            write(table, rows)

        monkeypatch.setattr(_Table, "write", fails_in_the_third_batch)
        with pytest.raises(RuntimeError, match="disk full"):
            generate(incidents=60, seed=3, batch=10)
        # No batch after the failed one starts; those before it, and one written beside it, are
        # committed whole: a rerun starts after them.
        assert Incident.objects.count() in (20, 30)
        assert TimelineEvent.objects.exclude(incident__in=Incident.objects.all()).count() == 0
        assert TimelineEvent.objects.values("incident").distinct().count() == Incident.objects.count()

    def test_foreign_keys_checked_once_a_batch(self):
        # The writers check the batch's foreign keys themselves (this test database's user is a superuser)...
        assert _may_skip_row_checks(_tables().values())
        # ...but not where a table has a trigger of another kind, which turning the row checks off would skip.
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION generate_test_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
                "CREATE TRIGGER generate_test_noop BEFORE INSERT ON incidents_claim "
                "FOR EACH ROW EXECUTE FUNCTION generate_test_noop()"
            )
        try:
            assert not _may_skip_row_checks(_tables().values())
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER generate_test_noop ON incidents_claim; DROP FUNCTION generate_test_noop()")

    def test_a_person_deleted_during_the_load_fails_the_batch(self, monkeypatch):
        pools = generate_module._pools

        def then_one_leaves():
            found = pools()
            get_user_model().objects.filter(pk=found.users[0]).delete()
            return found

        monkeypatch.setattr(generate_module, "_pools", then_one_leaves)
        with pytest.raises(IntegrityError):
            generate(incidents=20, seed=3, batch=10)
        assert Incident.objects.count() == 0
