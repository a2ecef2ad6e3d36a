"""Times as precise as what is known: typed, stored, kept as one with the timeline, and shown at their
precision everywhere (pages, drawn timeline, dashboard, CSV, Markdown, API, search)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from incidents import metrics, services
from incidents.models import Incident, TimelineEvent
from incidents.models.vocab import TimelineKind, TimePrecision
from incidents.search import search
from incidents.timeline_chart import timeline_chart
from incidents.times import PreciseTime, anchor, not_before

from .factories import IncidentFactory, TimelineEventFactory
from .test_incident_forms import HTMX, event_data, field_block, incident_data, read_form

START = datetime(2025, 12, 10, 14, 32, tzinfo=UTC)
DAY = datetime(2025, 12, 10, tzinfo=UTC)


def html(response) -> str:
    return response.content.decode()


def day_incident(**overrides) -> Incident:
    """Started at 14:32 UTC on 2025-12-10 (to the minute); detected that day, an estimate; no other time."""
    fields = {
        "started_at": START,
        "detected_at": DAY,
        "detected_precision": TimePrecision.DAY,
        "detected_estimated": True,
        "mitigated_at": None,
        "resolved_at": None,
        "title": "Cost Explorer interrupted",
        **overrides,
    }
    return IncidentFactory(**fields)


# --------------------------------------------------------------------------
# Reading a time at its precision
# --------------------------------------------------------------------------


class TestText:
    @pytest.mark.parametrize(
        ("precision", "zone", "expected"),
        [
            (TimePrecision.MINUTE, "UTC", "2025-12-10 14:32 UTC"),
            (TimePrecision.MINUTE, "America/Los_Angeles", "2025-12-10 06:32 PST"),
            (TimePrecision.HOUR, "UTC", "2025-12-10 14:00\u201315:00 UTC"),
            (TimePrecision.HOUR, "Asia/Kolkata", "2025-12-10 20:00\u201321:00 IST"),
            (TimePrecision.DAY, "Asia/Tokyo", "2025-12-10"),
            (TimePrecision.MONTH, "UTC", "December 2025"),
            (TimePrecision.QUARTER, "UTC", "Q4 2025"),
        ],
    )
    def test_each_precision_reads_as_people_say_it(self, precision, zone, expected):
        assert PreciseTime(START, precision, zone=zone).text() == expected

    @pytest.mark.parametrize("hour", [0, 12, 23])
    def test_a_date_never_shows_a_clock_time(self, hour):
        # 00:00 is how a date is stored, noon UTC the seeded knowledge base's anchor: the same date.
        value = PreciseTime(DAY.replace(hour=hour), TimePrecision.DAY, True, "America/Los_Angeles")
        assert value.text() == "2025-12-10"
        assert value.label() == "2025-12-10 (estimated)"
        assert ":" not in value.label()
        assert value.machine() == "2025-12-10"

    def test_the_csv_and_machine_forms(self):
        assert PreciseTime(START, TimePrecision.MONTH).csv() == "2025-12"
        assert PreciseTime(START, TimePrecision.QUARTER).csv() == "2025-Q4"
        assert PreciseTime(START, TimePrecision.MINUTE).csv() == "2025-12-10T14:32:00Z"

    @pytest.mark.parametrize(
        ("precision", "stored"),
        [
            (TimePrecision.DAY, datetime(2025, 12, 10, tzinfo=UTC)),
            (TimePrecision.MONTH, datetime(2025, 12, 1, tzinfo=UTC)),
            (TimePrecision.QUARTER, datetime(2025, 10, 1, tzinfo=UTC)),
            (TimePrecision.HOUR, datetime(2025, 12, 10, 14, tzinfo=UTC)),
            (TimePrecision.MINUTE, START),
        ],
    )
    def test_stored_at_its_precision(self, precision, stored):
        assert anchor(START, precision, "UTC") == stored

    def test_an_hour_is_floored_in_its_own_zone(self):
        # Kolkata is UTC+5:30: the hour 20:00 IST starts at 14:30 UTC, not 14:00.
        assert anchor(START, TimePrecision.HOUR, "Asia/Kolkata") == datetime(2025, 12, 10, 14, 30, tzinfo=UTC)

    def test_order_is_judged_at_the_coarser_precision(self):
        same_day = PreciseTime(DAY, TimePrecision.DAY)
        assert not_before(same_day, PreciseTime(START))  # detected "that day", started at 14:32
        day_before = PreciseTime(DAY - timedelta(days=1), TimePrecision.DAY)
        assert not not_before(day_before, PreciseTime(START))


# --------------------------------------------------------------------------
# The incident form
# --------------------------------------------------------------------------


def day_detection_data(**overrides) -> dict:
    data = incident_data(
        times_zone="Asia/Tokyo",
        started_local="2025-12-10T23:32",  # 14:32 UTC
        time_precision="minute",
        detected_local="2025-12-11",
        detected_precision="day",
        detected_estimated="on",
        mitigated_local="",
        resolved_local="",
    )
    return {**data, **overrides}


class TestIncidentForm:
    def test_a_day_typed_as_a_date_is_stored_at_midnight_utc_and_becomes_its_event(self, client_for, reviewer):
        response = client_for(reviewer).post("/incidents/new/", day_detection_data())
        assert response.status_code == 302
        incident = Incident.objects.get()
        # The date typed stays that date in any zone: 00:00 UTC of 2025-12-11, not 00:00 in Tokyo.
        assert incident.detected_at == datetime(2025, 12, 11, tzinfo=UTC)
        assert (incident.detected_precision, incident.detected_estimated) == ("day", True)
        assert incident.started_at == START
        events = {e.kind: e for e in incident.timeline.all()}
        assert set(events) == {"start", "detection"}
        detection = events["detection"]
        assert (detection.occurred_at, detection.precision, detection.estimated) == (
            incident.detected_at,
            "day",
            True,
        )
        assert detection.display_tz == "Asia/Tokyo"
        assert detection.source is None

    def test_the_edit_form_gives_back_what_was_typed(self, client_for, reviewer):
        client = client_for(reviewer)
        client.post("/incidents/new/", day_detection_data())
        incident = Incident.objects.get()
        form = read_form(client.get(f"/incidents/{incident.key}/edit/").content, novalidate="")
        assert form["times_zone"] == "Asia/Tokyo"  # the zone of its start event
        assert form["started_local"] == "2025-12-10T23:32"
        assert (form["detected_local"], form["detected_precision"], form["detected_estimated"]) == (
            "2025-12-11",
            "day",
            "on",
        )
        # Saving it unchanged changes nothing and adds no event.
        assert client.post(f"/incidents/{incident.key}/edit/", form).status_code == 302
        assert incident.timeline.count() == 2
        fresh = Incident.objects.get(pk=incident.pk)
        assert (fresh.detected_at, fresh.detected_precision, fresh.detected_estimated) == (
            incident.detected_at,
            "day",
            True,
        )

    @pytest.mark.parametrize(
        ("typed", "precision", "expected"),
        [
            ("2025-12", "month", datetime(2025, 12, 1, tzinfo=UTC)),
            ("2025-Q4", "quarter", datetime(2025, 10, 1, tzinfo=UTC)),
            ("2025-12-11T09:45", "day", datetime(2025, 12, 11, tzinfo=UTC)),  # cut to the day typed
        ],
    )
    def test_months_and_quarters_store_their_first_day(self, client_for, reviewer, typed, precision, expected):
        data = day_detection_data(
            started_local="2025-10-01", time_precision="quarter", detected_local=typed, detected_precision=precision
        )
        assert client_for(reviewer).post("/incidents/new/", data).status_code == 302
        assert Incident.objects.get().detected_at == expected

    @pytest.mark.parametrize(
        ("typed", "precision", "message"),
        [
            ("2025-12-11", "minute", "add the time of day"),
            ("2025-12-11", "hour", "add the time of day"),
            ("2025-12", "day", "add the day"),
        ],
    )
    def test_a_time_coarser_than_its_precision_asks_for_what_is_missing(
        self, client_for, reviewer, typed, precision, message
    ):
        response = client_for(reviewer).post(
            "/incidents/new/", day_detection_data(detected_local=typed, detected_precision=precision)
        )
        assert response.status_code == 200
        assert message in field_block(response.content, "detected_local")
        form = read_form(response.content, novalidate="")
        assert (form["detected_local"], form["detected_precision"], form["title"]) == (
            typed,
            precision,
            "DNS outage in us-east-1",
        )
        assert not Incident.objects.exists()

    def test_a_detection_known_to_the_day_may_share_the_starts_day(self, client_for, reviewer):
        data = day_detection_data(times_zone="UTC", started_local="2025-12-10T14:32", detected_local="2025-12-10")
        assert client_for(reviewer).post("/incidents/new/", data).status_code == 302

    def test_a_detection_the_day_before_the_start_is_refused_beside_it(self, client_for, reviewer):
        data = day_detection_data(times_zone="UTC", started_local="2025-12-10T14:32", detected_local="2025-12-09")
        response = client_for(reviewer).post("/incidents/new/", data)
        assert "The detection cannot come before the start." in field_block(response.content, "detected_local")


# --------------------------------------------------------------------------
# One truth: the incident's times and its timeline
# --------------------------------------------------------------------------


@pytest.fixture
def recorded(reviewer) -> Incident:
    """Recorded through the service: start 14:32, detection 15:00, both to the minute; their events follow."""
    return services.incident_create(
        user=reviewer,
        data={
            "title": "Checkout down",
            "severity": "SEV2",
            "started_at": START,
            "detected_at": START.replace(hour=15, minute=0),
            "times_zone": "Europe/Berlin",
        },
    )


def own(incident: Incident, kind: str) -> TimelineEvent:
    """The incident's own event of the kind: the one at the incident's time for it."""
    incident.refresh_from_db()
    at = {"start": incident.started_at, "detection": incident.detected_at}[kind]
    return incident.timeline.get(kind=kind, occurred_at=at)


class TestOneTruth:
    def test_the_incidents_times_are_its_events(self, recorded):
        assert [(e.kind, e.occurred_at, e.display_tz) for e in recorded.timeline.all()] == [
            ("start", START, "Europe/Berlin"),
            ("detection", START.replace(hour=15, minute=0), "Europe/Berlin"),
        ]

    def test_changing_the_incidents_time_moves_its_event_with_precision_and_estimate(self, reviewer, recorded):
        event = own(recorded, "detection")
        services.incident_update(
            user=reviewer,
            incident=recorded,
            data={"detected_at": DAY, "detected_precision": "day", "detected_estimated": True},
        )
        event.refresh_from_db()
        assert (event.occurred_at, event.precision, event.estimated) == (DAY, "day", True)
        assert recorded.timeline.filter(kind="detection").count() == 1

    def test_clearing_the_incidents_time_removes_its_event(self, reviewer, recorded):
        services.incident_update(user=reviewer, incident=recorded, data={"detected_at": None})
        assert not recorded.timeline.filter(kind="detection").exists()

    def test_adding_the_missing_time_as_an_event_fills_the_incident(self, recorded):
        services.timeline_event_create(
            incident=recorded,
            data={
                "occurred_at": DAY + timedelta(days=1),
                "precision": "day",
                "estimated": True,
                "kind": TimelineKind.MITIGATION,
                "description": "Rolled back",
            },
        )
        recorded.refresh_from_db()
        assert (recorded.mitigated_at, recorded.mitigated_precision, recorded.mitigated_estimated) == (
            DAY + timedelta(days=1),
            "day",
            True,
        )

    def test_editing_the_own_event_changes_the_incident(self, recorded):
        event = own(recorded, "detection")
        services.timeline_event_update(event=event, data={"occurred_at": START.replace(hour=16, minute=5)})
        recorded.refresh_from_db()
        assert recorded.detected_at == START.replace(hour=16, minute=5)

    def test_another_sources_account_stands_beside_it_and_changes_nothing(self, recorded):
        services.timeline_event_create(
            incident=recorded,
            data={
                "occurred_at": START.replace(hour=17),
                "kind": TimelineKind.DETECTION,
                "description": "Per the press",
            },
        )
        recorded.refresh_from_db()
        assert recorded.detected_at == START.replace(hour=15, minute=0)

    def test_an_event_out_of_order_is_refused_beside_its_time(self, recorded):
        event = own(recorded, "detection")
        with pytest.raises(ValidationError) as refused:
            services.timeline_event_update(event=event, data={"occurred_at": START - timedelta(hours=1)})
        assert refused.value.message_dict == {"occurred_at": ["The detection cannot come before the start."]}
        event.refresh_from_db()
        assert event.occurred_at == START.replace(hour=15, minute=0)

    def test_deleting_the_own_event_clears_the_time_or_hands_it_on(self, recorded):
        later = TimelineEventFactory(incident=recorded, kind="detection", occurred_at=START.replace(hour=18))
        services.timeline_event_delete(event=own(recorded, "detection"))
        recorded.refresh_from_db()
        assert recorded.detected_at == later.occurred_at  # the next account takes it
        services.timeline_event_delete(event=later)
        recorded.refresh_from_db()
        assert recorded.detected_at is None

    def test_the_only_start_cannot_be_removed(self, recorded):
        start = own(recorded, "start")
        with pytest.raises(ValidationError, match="every incident has"):
            services.timeline_event_delete(event=start)
        with pytest.raises(ValidationError, match="every incident has"):
            services.timeline_event_update(event=start, data={"kind": TimelineKind.CONTEXT})
        assert TimelineEvent.objects.filter(pk=start.pk, kind="start").exists()

    def test_the_page_says_why_the_start_stays(self, client_for, reviewer, recorded):
        start = own(recorded, "start")
        response = client_for(reviewer).post(f"/incidents/{recorded.key}/timeline/{start.pk}/delete/", **HTMX)
        assert response.status_code == 422
        assert "every incident has" in html(response)
        assert 'role="alert"' in html(response)
        assert TimelineEvent.objects.filter(pk=start.pk).exists()

    def test_the_event_form_takes_a_date_with_an_estimate(self, client_for, reviewer, recorded):
        url = f"/incidents/{recorded.key}/timeline/"
        data = event_data(
            kind="resolution", occurred_local="2025-12-12", precision="day", estimated="on", display_tz="UTC"
        )
        response = client_for(reviewer).post(url, data, **HTMX)
        assert response.status_code == 200
        recorded.refresh_from_db()
        assert (recorded.resolved_at, recorded.resolved_precision, recorded.resolved_estimated) == (
            datetime(2025, 12, 12, tzinfo=UTC),
            "day",
            True,
        )
        row = html(response)[html(response).index("Alarm on DNS resolution errors") - 600 :]
        assert 'datetime="2025-12-12"' in row
        assert "2025-12-12 00:00" not in html(response)

    def test_the_event_form_refuses_a_date_at_minute_precision_keeping_the_text(self, client_for, reviewer, recorded):
        url = f"/incidents/{recorded.key}/timeline/"
        response = client_for(reviewer).post(url, event_data(occurred_local="2025-12-12"), **HTMX)
        assert response.status_code == 422
        assert "add the time of day" in field_block(response.content, "occurred_local")
        assert read_form(response.content, id="add-event")["occurred_local"] == "2025-12-12"


# --------------------------------------------------------------------------
# Shown everywhere
# --------------------------------------------------------------------------


class TestShown:
    def test_the_incident_page(self, client_for, leader):
        incident = day_incident(mitigated_at=DAY + timedelta(days=1), mitigated_precision="day")
        TimelineEventFactory(
            incident=incident, kind="detection", occurred_at=DAY, precision="day", estimated=True, display_tz="UTC"
        )
        page = html(client_for(leader).get(f"/incidents/{incident.key}/"))
        detected = page[page.index('data-testid="time-detected"') :][:400]
        assert '<time datetime="2025-12-10" data-precision="day">2025-12-10</time>' in detected
        assert '<span class="visually-hidden">estimated</span>' in detected
        assert "00:00" not in detected
        assert "12:00" not in detected
        assert "2025-12-10 14:32 UTC" in page
        # Time to detect, to an estimated date: the range that day allows, approximate, said so;
        # time to mitigate, to a date: the range.
        assert '<span class="visually-hidden">approximately</span></span> between 0 min and 9 h 28 min</dd>' in page
        assert "<dd>between 9 h 27 min and 1 d 9 h</dd>" in page
        # The drawn timeline's legend and mark titles name the date, not a clock time.
        assert "Detected 2025-12-10 (estimated)" in page
        assert "mark-estimated" in page

    def test_the_drawn_timeline_bands_an_imprecise_time(self, db):
        incident = day_incident(detected_at=DAY + timedelta(days=1), resolved_at=DAY + timedelta(days=2, hours=3))
        chart = timeline_chart(incident, [])
        detected = next(m for m in chart["marks"] if m.label == "Detected")
        assert (detected.estimated, detected.text) == (True, "2025-12-11 (estimated)")
        assert detected.band_width > 0  # over the whole day it may lie in
        spans = {s.css: s.label for s in chart["spans"]}
        # To an estimated date: the range that day allows, marked approximate.
        assert spans["ttd"] == "≈ between 9 h 27 min and 1 d 9 h to detect"
        assert spans["ttr"] == "1 d 12 h to resolve"  # both ends known to the minute

    def test_the_list_shows_the_start_no_finer_than_known(self, client_for, leader):
        day_incident(started_at=datetime(2025, 12, 15, 12, tzinfo=UTC), time_precision="month", detected_at=None)
        page = html(client_for(leader).get("/incidents/"))
        assert '<time datetime="2025-12" data-precision="month">December 2025</time>' in page

    def test_the_markdown_export(self, client_for, reviewer):
        incident = day_incident()
        services.coe_start(incident=incident, user=reviewer)
        TimelineEventFactory(incident=incident, kind="detection", occurred_at=DAY, precision="day", estimated=True)
        text = client_for(reviewer).get(f"/incidents/{incident.key}/coe/export.md").content.decode()
        assert "- Detected: 2025-12-10 (estimated)" in text
        assert "- Started: 2025-12-10 14:32 UTC" in text
        assert "| 2025-12-10 (estimated) | Detection |" in text

    def test_the_csv(self, leader):
        day_incident(started_at=datetime(2025, 10, 1, tzinfo=UTC), time_precision="quarter", detected_at=DAY)
        client = Client()
        client.force_login(leader)
        response = client.get("/api/v1/incidents/", {"format": "csv"})
        [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert (row["started_at"], row["time_precision"], row["started_estimated"]) == ("2025-Q4", "quarter", "False")
        assert (row["detected_at"], row["detected_precision"], row["detected_estimated"]) == (
            "2025-12-10",
            "day",
            "True",
        )

    def test_the_api_gives_each_time_its_precision(self, leader):
        incident = day_incident()
        TimelineEventFactory(incident=incident, kind="detection", occurred_at=DAY, precision="day", estimated=True)
        client = Client()
        client.force_login(leader)
        detail = client.get(f"/api/v1/incidents/{incident.key}/").json()
        assert {name: detail[name] for name in ("detected_at", "detected_precision", "detected_estimated")} == {
            "detected_at": "2025-12-10T00:00:00Z",
            "detected_precision": "day",
            "detected_estimated": True,
        }
        assert (detail["time_precision"], detail["started_estimated"]) == ("minute", False)
        assert (detail["timeline"][0]["precision"], detail["timeline"][0]["estimated"]) == ("day", True)
        [listed] = client.get("/api/v1/incidents/").json()["results"]
        assert (listed["detected_precision"], listed["detected_estimated"]) == ("day", True)

    def test_the_dashboard_counts_estimated_durations_apart(self, leader):
        day_incident()  # detected "that day" (estimated): measured from 00:00, before the start, so not measured
        day_incident(detected_at=DAY + timedelta(days=1))  # the next day, estimated: measured, estimated
        day_incident(detected_at=START + timedelta(minutes=20), detected_precision="minute", detected_estimated=False)
        [row] = metrics.by_month(Incident.objects.all())[1]
        assert (row["ttd"]["count"], row["ttd"]["estimated"]) == (2, 1)

    def test_a_search_hit_on_a_dated_event_has_no_clock_time(self, leader):
        incident = day_incident()
        TimelineEventFactory(
            incident=incident, kind="detection", occurred_at=DAY, precision="day", description="Billing alarm"
        )
        found = search(leader, "billing alarm")
        [hit] = [h for r in found.results for h in r.hits if h.kind == "timeline"]
        assert hit.label == "Timeline · 2025-12-10 · Detection"
