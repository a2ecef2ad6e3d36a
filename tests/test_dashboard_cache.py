"""The dashboard's figures are cached per viewer and scope, and never served after their data changed.

Committed data (transactional tests), because the cache is used only outside transactions.
The data set is test_dashboard's `world`.
"""

import logging
import re
import socket
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import dashboard_cache, data_version, metrics, services, tasks
from incidents.metrics import Period, Scope
from incidents.models import ActionItem, Claim, CoeDocument, DataChange, Incident, Source
from incidents.models.vocab import ActionStatus, CoeStatus, SourceKind

from .factories import AIInvolvementFactory
from .test_dashboard import SCOPE, TODAY, committed_roles, world  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"),
    pytest.mark.django_db(transaction=True),
]


def figures(user, scope=SCOPE):
    return metrics.dashboard_metrics(user, scope, today=TODAY)


def computed(user, scope=SCOPE):
    """The figures straight from the data, past the cache."""
    return metrics.compute_dashboard_metrics(user, scope, today=TODAY)


@pytest.fixture
def data(committed_roles, world):  # noqa: F811 (test_dashboard's fixtures, imported above)
    return world


def test_a_second_read_is_one_query_and_the_same_figures(data, leader, django_assert_num_queries):
    first = figures(leader)
    assert first == computed(leader)
    with django_assert_num_queries(1):  # the data version and the viewer's groups
        assert figures(leader) == first


def test_each_viewer_gets_figures_of_what_they_may_see(data, leader, outsider):
    assert figures(leader)["incidents_total"] == 5  # R, restricted, included
    # The leader's cached figures are not the outsider's: R stays hidden.
    assert figures(outsider)["incidents_total"] == 4
    assert "Secret leaked by agent" not in repr(figures(outsider))


def test_joining_and_leaving_a_group_changes_what_is_counted(data, outsider, restricted_group):
    assert figures(outsider)["incidents_total"] == 4
    outsider.groups.add(restricted_group)
    assert figures(outsider)["incidents_total"] == 5
    outsider.groups.remove(restricted_group)
    assert figures(outsider)["incidents_total"] == 4


def _severity(w):
    Incident.objects.filter(pk=w.a.pk).update(severity="SEV4")  # a queryset update: no signals


def _item_done(w):
    ActionItem.objects.filter(pk=w.items.two.pk).update(status=ActionStatus.DONE, completed_at=w.items.two.created_at)


def _raw_sql(w):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_actionitem SET due_date = due_date - 400 WHERE id = %s", [w.items.three.pk])


def _service_unlinked(w):
    w.b.services.clear()  # B no longer repeats A


def _coe_approved(w):
    CoeDocument.objects.filter(incident=w.r).update(approved_at=w.r.resolved_at + timedelta(days=1))


def _agent_recorded(w):
    AIInvolvementFactory(incident=w.d, autonomy_level="L3")


def _claim_deleted(w):
    Claim.objects.filter(incident=w.b).delete()


def _source_reclassified(w):
    Source.objects.filter(claims__incident=w.b).update(kind=SourceKind.PRESS)


def _control_unlinked(w):
    w.agent_gate.incidents.remove(w.c)


def _owner_renamed(w):
    get_user_model().objects.filter(username="owen").update(username="owena")


def _incident_restricted(w):
    Incident.objects.filter(pk=w.d.pk).update(restricted=True, access_group=w.r.access_group)


def _incident_deleted(w):
    Incident.objects.filter(pk=w.d.pk).delete()


WRITES = [
    _severity,
    _item_done,
    _raw_sql,
    _service_unlinked,
    _coe_approved,
    _agent_recorded,
    _claim_deleted,
    _source_reclassified,
    _control_unlinked,
    _owner_renamed,
    _incident_restricted,
    _incident_deleted,
]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.strip("_") for w in WRITES])
@pytest.mark.parametrize("scope", [SCOPE, Scope()], ids=["period", "all time"])
def test_a_write_to_what_the_figures_read_gives_new_figures(data, leader, outsider, write, scope):
    viewers = (leader, outsider)
    before = [figures(viewer, scope) for viewer in viewers]
    write(data)
    after = [computed(viewer, scope) for viewer in viewers]
    assert after != before  # the write changes some figure for someone
    assert [figures(viewer, scope) for viewer in viewers] == after


def test_all_time_is_added_up_from_a_part_per_month(data, leader):
    # The incidents started from January 2024 to November 2025: 23 months.
    parts = dashboard_cache.month_parts(Period(), data.e.started_at, data.d.started_at)
    assert len(parts) == 23
    assert figures(leader, Scope()) == computed(leader, Scope())


def _title(model, pk):
    return lambda w: model.objects.filter(pk=pk(w)).update(title="Edited")


@pytest.mark.parametrize(
    ("edit", "recomputed"),
    [
        # An incident of 20 November 2025: its month's part (the last month with incidents).
        (_title(Incident, lambda w: w.d.pk), [date(2025, 11, 1)]),
        # Of 10 January 2024: its month's and those of the next 90 days, whose repeats look back at it.
        (_title(Incident, lambda w: w.e.pk), [date(2024, m, 1) for m in (1, 2, 3, 4)]),
        # An action item of an incident of 15 November 2025: that month's part.
        (_title(ActionItem, lambda w: w.items.three.pk), [date(2025, 11, 1)]),
    ],
    ids=["incident", "incident with months ahead", "action item"],
)
def test_an_edit_recomputes_only_the_parts_of_the_months_it_touched(
    data, leader, settings, monkeypatch, django_assert_num_queries, edit, recomputed
):
    settings.DB_QUERY_THREADS = 1  # every query on this connection, to count them
    figures(leader, Scope())
    edit(data)
    compute, computed_parts = metrics.compute_parts, []

    def recording(user, scope, periods, today):
        computed_parts.extend(period.start for period in periods)
        return compute(user, scope, periods, today)

    monkeypatch.setattr(metrics, "compute_parts", recording)
    # The months' versions, the viewer's groups and the span of starts (before); the eight passes
    # over the parts' incidents, grouped by part, the controls' taking two (their links counted, the
    # controls listed); the versions again (after: a part is kept only if its months are unchanged).
    with django_assert_num_queries(1 + 9 + 1):
        served = figures(leader, Scope())
    assert computed_parts == recomputed
    assert served == computed(leader, Scope())
    with django_assert_num_queries(1):
        figures(leader, Scope())


def test_a_period_is_cut_at_month_boundaries_within_the_months_with_incidents():
    first, last = datetime(2025, 10, 5, tzinfo=UTC), datetime(2025, 12, 20, tzinfo=UTC)
    assert dashboard_cache.month_parts(Period(date(2025, 10, 15), date(2026, 6, 1)), first, last) == [
        Period(date(2025, 10, 15), date(2025, 11, 1)),
        Period(date(2025, 11, 1), date(2025, 12, 1)),
        Period(date(2025, 12, 1), date(2026, 1, 1)),
    ]
    assert dashboard_cache.month_parts(Period(date(2025, 11, 3), date(2025, 11, 4)), first, last) == [
        Period(date(2025, 11, 3), date(2025, 11, 4))
    ]
    assert dashboard_cache.month_parts(Period(), None, None) == []  # no incidents
    assert dashboard_cache.month_parts(Period(date(2027, 1, 1)), first, last) == []


def test_a_part_depends_on_the_months_of_the_log_its_days_fall_in():
    november = Period(date(2025, 11, 1), date(2025, 12, 1))
    assert dashboard_cache._utc_months(november) == [202511]
    # In New York, November's local days end at 05:00 UTC on 1 December.
    with timezone.override("America/New_York"):
        assert dashboard_cache._utc_months(november) == [202511, 202512]
    with timezone.override("Asia/Tokyo"):  # and begin at 15:00 UTC on 31 October
        assert dashboard_cache._utc_months(november) == [202510, 202511]


def test_a_login_keeps_the_figures(data, leader, django_assert_num_queries):
    """Logins write last_login on auth_user; only usernames matter to the figures."""
    version = data_version.current()
    figures(leader)
    update_last_login(None, leader)
    assert data_version.current() == version
    with django_assert_num_queries(1):
        figures(leader)


def test_saving_a_draft_coe_keeps_the_figures(data, reviewer, leader, django_assert_num_queries):
    """The figures read only a COE's approval; its prose is saved often while it is written."""
    coe = CoeDocument.objects.get(incident=data.r)
    coe.status = CoeStatus.DRAFT
    coe.save()
    version = data_version.current()
    figures(leader)
    services.coe_save(coe=coe, user=reviewer, data={"summary": "Rewritten."}, base_version=coe.version)
    assert CoeDocument.objects.get(pk=coe.pk).summary == "Rewritten."
    assert data_version.current() == version
    with django_assert_num_queries(1):
        figures(leader)


def test_figures_of_a_write_that_came_while_computing_are_not_kept(data, leader, monkeypatch):
    compute = metrics.compute_parts

    def compute_then_a_write_commits(*args, **kwargs):
        result = compute(*args, **kwargs)
        Incident.objects.filter(pk=data.a.pk).update(severity="SEV4")
        return result

    monkeypatch.setattr(metrics, "compute_parts", compute_then_a_write_commits)
    stale = figures(leader)
    monkeypatch.setattr(metrics, "compute_parts", compute)
    with CaptureQueriesContext(connection) as queries:
        fresh = figures(leader)
    assert len(queries) > 1  # computed again, not served
    assert fresh != stale
    assert fresh == computed(leader)


def test_inside_a_transaction_its_own_writes_count(data, leader):
    figures(leader)  # cached, outside any transaction
    with transaction.atomic():
        Incident.objects.filter(pk=data.a.pk).update(severity="SEV4")
        inside = figures(leader)
        assert inside == computed(leader)
        assert inside["incidents_by_month"][0]["SEV4"] == 1
        transaction.set_rollback(True)
    assert figures(leader)["incidents_by_month"][0]["SEV4"] == 0


def test_figures_kept_by_other_code_are_not_read(data, leader, monkeypatch):
    """A deploy that changes metrics.py starts afresh: its figures may be computed or shaped differently."""
    figures(leader)
    monkeypatch.setattr(dashboard_cache, "_code_version", lambda: "the next release")
    with CaptureQueriesContext(connection) as queries:
        again = figures(leader)
    assert len(queries) > 2  # computed, not served
    assert again == computed(leader)


def test_off_when_dashboard_cache_seconds_is_zero(data, leader, settings):
    settings.DASHBOARD_CACHE_SECONDS = 0
    figures(leader)
    with CaptureQueriesContext(connection) as queries:
        figures(leader)
    assert len(queries) > 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cache_costs_the_speed_not_the_figures(data, leader, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    with caplog.at_level(logging.WARNING, logger="incidents.dashboard_cache"):
        assert figures(leader) == computed(leader)
    assert "Dashboard cache unavailable" in caplog.text


def test_every_table_the_figures_read_logs_its_writes(data, leader, settings):
    """A table the figures read without a trigger would let cached figures go stale."""
    settings.DB_QUERY_THREADS = 1
    scopes = [
        Scope(),
        Scope(period=Period(TODAY - timedelta(days=400), TODAY), services=("dns",), regions=("us-east-1",)),
        Scope(severities=("SEV1",), team="core"),
    ]
    read = set()
    for scope in scopes:
        with CaptureQueriesContext(connection) as queries:
            computed(leader, scope)
        for query in queries:
            read |= set(re.findall(r'"((?:incidents|auth)_\w+)"', query["sql"]))
    with connection.cursor() as cursor:
        cursor.execute(  # the triggers that log inserts (tgtype's bit 2)
            "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'incidents_note_%' AND tgtype & 4 > 0"
        )
        logged = {row[0] for row in cursor.fetchall()}
    assert {"incidents_incident", "incidents_actionitem", "incidents_control_incidents"} <= read
    # auth_group: only its ids are read; deleting a group writes auth_user_groups and incidents.
    assert read - {"auth_group"} <= logged, read - {"auth_group"} - logged


def _logged_since(last_id: int) -> list:
    return sorted(DataChange.objects.filter(id__gt=last_id).values_list("month", flat=True), key=str)


def _last_change() -> int:
    return DataChange.objects.latest("id").id


class TestDataVersion:
    def test_a_transaction_logs_each_month_it_touched_once(self, data):
        last = _last_change()
        with transaction.atomic():
            ActionItem.objects.all().update(title="Renamed")  # of incidents of October and November
            ActionItem.objects.filter(pk=data.items.one.pk).update(title="Again")  # October again
        assert _logged_since(last) == [date(2025, 10, 1), date(2025, 11, 1)]

    def test_an_incident_logs_its_month_and_those_of_the_next_90_days(self, data):
        last = _last_change()
        with transaction.atomic():
            Incident.objects.filter(pk=data.a.pk).update(severity="SEV4")  # 5 October: to 3 January
            Incident.objects.filter(pk=data.b.pk).update(severity="SEV4")  # 20 October: to 18 January
        assert _logged_since(last) == [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]

    def test_an_incident_moved_to_another_month_logs_both(self, data):
        last = _last_change()
        Incident.objects.filter(pk=data.d.pk).update(started_at=datetime(2026, 1, 3, tzinfo=UTC))
        # From 20 November 2025 (to 18 February) and to 3 January 2026 (to 3 April).
        assert _logged_since(last) == [date(2025, 11, 1), date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 5)]

    def test_rows_of_an_incident_log_its_month(self, data):
        last = _last_change()
        ActionItem.objects.filter(pk=data.items.one.pk).update(status=ActionStatus.VERIFIED)  # of a: October
        AIInvolvementFactory(incident=data.d)  # November
        assert _logged_since(last) == [date(2025, 10, 1), date(2025, 11, 1)]

    def test_an_incidents_services_log_the_next_90_days_too(self, data):
        last = _last_change()
        data.e.services.clear()  # 10 January 2024: later incidents on the service may no longer repeat it
        assert _logged_since(last) == [date(2024, m, 1) for m in range(1, 5)]

    def test_a_write_that_concerns_no_incident_logs_every_month(self, data):
        last = _last_change()
        _source_reclassified(data)
        assert _logged_since(last) == [None]

    def test_a_deleted_incident_logs_its_month(self, data):
        last = _last_change()
        _incident_deleted(data)  # d (20 November), with its action item, services and COE
        assert _logged_since(last) == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]

    def test_the_months_versions_grow_with_each_commit(self, data):
        before = data_version.months()
        _item_done(data)  # an item of b: October 2025
        after = data_version.months()
        assert after[202510][0] == before.get(202510, (0, 0))[0] + 1
        assert after[202510][1] > before[0][1]  # a newer transaction than any before
        assert {m: v for m, v in after.items() if m != 202510} == {m: v for m, v in before.items() if m != 202510}

    def test_compaction_leaves_a_row_per_month_and_every_version_as_it_was(
        self, data, leader, django_assert_num_queries
    ):
        _item_done(data)
        _severity(data)
        served = figures(leader, Scope())
        months, version = data_version.months(), data_version.current()
        assert DataChange.objects.count() > len(months)
        assert data_version.compact() >= 1
        assert DataChange.objects.count() == len(months)
        assert data_version.months() == months
        assert data_version.current() == version
        with django_assert_num_queries(1):  # the figures kept before the compaction, still served
            assert figures(leader, Scope()) == served
        assert served == computed(leader, Scope())
        ActionItem.objects.filter(pk=data.items.two.pk).update(title="After")  # of b: October
        assert data_version.months()[202510][0] == months[202510][0] + 1  # counting on from the compacted row
        assert figures(leader, Scope()) == computed(leader, Scope())

    def test_compaction_waits_for_no_open_writer_beyond_its_timeout(self, data):
        """An open transaction that logged a write keeps its row: compaction gives up instead."""
        params = connection.get_connection_params()
        with psycopg.connect(**params) as other:
            other.execute("UPDATE incidents_incident SET severity = 'SEV4' WHERE id = %s", [data.a.pk])
            rows = DataChange.objects.count()
            assert data_version.compact(lock_timeout="200ms") is None
            assert DataChange.objects.count() == rows
            other.rollback()
        assert data_version.compact() == rows

    def test_the_beat_schedule_compacts_the_log(self, data):
        from coe.celery import app

        assert any(e["task"] == "incidents.compact_data_changes" for e in app.conf.beat_schedule.values())
        months = DataChange.objects.values("month").distinct().count()
        assert tasks.compact_data_changes() >= 1
        assert DataChange.objects.count() == months
