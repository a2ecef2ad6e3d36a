"""The dashboard's kept figures (incidents/figures.py): the same as the computation, stale only
between a write and its refresh, one refresh per burst of writes, and never shared across
audiences."""

import hashlib
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache

from incidents import figures, metrics, tasks
from incidents.figures import preset_of
from incidents.metrics import Period, Scope

from .factories import ActionItemFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 1)
ALL_TIME = Scope()
TWELVE_MONTHS = Scope(period=metrics.preset_period("12m", TODAY))


def without_time(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "computed_at"}


@pytest.fixture
def world(restricted_incident, outsider):
    for n in range(3):
        incident = IncidentFactory(started_at=datetime(2025, 6 + n, 1, tzinfo=UTC))
        ActionItemFactory(incident=incident, due_date=date(2026, 1, 1))
    return restricted_incident


@pytest.fixture
def refreshes(monkeypatch):
    """The refresh tasks queued, by (user id, preset, day), instead of run."""
    queued = []
    monkeypatch.setattr(tasks.refresh_dashboard, "delay", lambda *args: queued.append(args))
    return queued


def write_through_a_service(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        figures.data_changed()


class TestDefaultViews:
    def test_only_the_presets_without_filters_are_kept(self):
        assert preset_of(ALL_TIME, TODAY) == "all"
        assert preset_of(TWELVE_MONTHS, TODAY) == "12m"
        assert preset_of(Scope(period=Period(TODAY - timedelta(days=90), None)), TODAY) == "90d"
        assert preset_of(Scope(period=Period(date(2025, 1, 1), None)), TODAY) is None
        assert preset_of(Scope(severities=("SEV1",)), TODAY) is None

    @pytest.mark.parametrize("who", ["leader", "outsider"])
    @pytest.mark.parametrize("scope", [ALL_TIME, TWELVE_MONTHS], ids=["all", "12m"])
    def test_kept_figures_are_the_computed_ones(self, world, request, who, scope):
        user = request.getfixturevalue(who)
        first = figures.dashboard(user, scope, today=TODAY)
        second = figures.dashboard(user, scope, today=TODAY)
        assert (first.kept, second.kept) == (False, True)
        assert second.metrics == first.metrics
        assert without_time(second.metrics) == without_time(metrics.compute_dashboard_metrics(user, scope, today=TODAY))

    def test_a_kept_read_is_one_query(self, world, leader, django_assert_num_queries):
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        # 1 the restricted incidents hidden from the viewer (the audience, part of the key).
        with django_assert_num_queries(1):
            assert figures.dashboard(leader, ALL_TIME, today=TODAY).kept

    def test_a_filtered_view_is_computed_every_time(self, world, leader):
        scope = Scope(period=Period(date(2025, 1, 1), None))
        assert not figures.dashboard(leader, scope, today=TODAY).kept
        assert not figures.dashboard(leader, scope, today=TODAY).kept


class TestAudiences:
    def test_who_sees_a_restricted_incident_never_shares_figures_with_who_does_not(self, world, leader, outsider):
        seen = figures.dashboard(leader, ALL_TIME, today=TODAY).metrics
        unseen = figures.dashboard(outsider, ALL_TIME, today=TODAY)
        assert not unseen.kept
        assert unseen.metrics["incidents_total"] == seen["incidents_total"] - 1

    def test_viewers_in_the_same_groups_share_one_entry(self, world, outsider):
        figures.dashboard(outsider, ALL_TIME, today=TODAY)
        colleague = UserFactory(username="colleague")
        colleague.groups.set(outsider.groups.all())
        assert figures.dashboard(colleague, ALL_TIME, today=TODAY).kept

    def test_an_owner_of_a_restricted_incident_outside_its_group_gets_figures_of_their_own(
        self, world, outsider, restricted_group
    ):
        figures.dashboard(outsider, ALL_TIME, today=TODAY)
        owner = UserFactory(username="owner")
        owner.groups.set(outsider.groups.all())
        IncidentFactory(owner=owner, restricted=True, access_group=restricted_group)
        mine = figures.dashboard(owner, ALL_TIME, today=TODAY)
        assert not mine.kept
        assert (
            mine.metrics["incidents_total"]
            == figures.dashboard(outsider, ALL_TIME, today=TODAY).metrics["incidents_total"] + 1
        )

    def test_a_new_group_member_gets_figures_of_their_own(self, world, outsider):
        figures.dashboard(outsider, ALL_TIME, today=TODAY)
        outsider.groups.add(world.access_group)
        joined = figures.dashboard(outsider, ALL_TIME, today=TODAY)
        assert not joined.kept
        assert joined.metrics["incidents_total"] == 4


class TestKey:
    def test_another_day_or_zone_or_target_is_another_entry(self, world, leader, settings):
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        assert not figures.dashboard(leader, ALL_TIME, today=TODAY + timedelta(days=1)).kept
        settings.COE_APPROVAL_TARGET_DAYS = 30
        assert not figures.dashboard(leader, ALL_TIME, today=TODAY).kept
        settings.TIME_ZONE = "Europe/Berlin"
        assert not figures.dashboard(leader, ALL_TIME, today=TODAY).kept

    def test_code_or_vocabularies_of_another_deploy_are_never_read(self, world, leader, monkeypatch):
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        monkeypatch.setattr(figures, "_code_digest", lambda: "another-deploy")
        assert not figures.dashboard(leader, ALL_TIME, today=TODAY).kept

    def test_the_digest_covers_the_figures_code_and_the_vocabularies(self):
        here = Path(figures.__file__).parent
        digest = hashlib.sha256((here / "metrics.py").read_bytes() + (here / "models" / "vocab.py").read_bytes())
        assert figures._code_digest() == digest.hexdigest()[:16]


class TestStaleWhileRevalidate:
    def test_a_write_serves_the_kept_figures_and_queues_one_refresh(
        self, world, leader, refreshes, django_capture_on_commit_callbacks
    ):
        before = figures.dashboard(leader, ALL_TIME, today=TODAY)
        IncidentFactory(started_at=datetime(2025, 12, 1, tzinfo=UTC))
        write_through_a_service(django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            stale = figures.dashboard(leader, ALL_TIME, today=TODAY)
        assert stale.kept
        assert stale.metrics == before.metrics
        assert refreshes == [(leader.pk, "all", TODAY.isoformat())]
        # The worker's task recomputes; the next read has the write.
        tasks.refresh_dashboard.run(*refreshes[0])
        fresh = figures.dashboard(leader, ALL_TIME, today=TODAY)
        assert fresh.kept
        assert fresh.metrics["incidents_total"] == before.metrics["incidents_total"] + 1

    def test_a_burst_of_writes_costs_one_refresh(self, world, leader, refreshes, django_capture_on_commit_callbacks):
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        for _ in range(5):
            write_through_a_service(django_capture_on_commit_callbacks)
            with django_capture_on_commit_callbacks(execute=True):
                assert figures.dashboard(leader, ALL_TIME, today=TODAY).kept
        assert len(refreshes) == 1

    def test_after_the_refresh_interval_another_refresh_is_queued(
        self, world, leader, refreshes, settings, django_capture_on_commit_callbacks
    ):
        settings.DASHBOARD_REFRESH_SECONDS = 1
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        for _ in range(2):
            write_through_a_service(django_capture_on_commit_callbacks)
            with django_capture_on_commit_callbacks(execute=True):
                figures.dashboard(leader, ALL_TIME, today=TODAY)
            time.sleep(1.1)  # the marker expires in the cache itself (Redis keeps its own clock)
        assert len(refreshes) == 2

    def test_figures_older_than_the_max_age_are_refreshed_without_a_write(
        self, world, leader, refreshes, settings, django_capture_on_commit_callbacks
    ):
        settings.DASHBOARD_MAX_AGE_SECONDS = 60
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        with time_machine.travel(datetime.now(UTC) + timedelta(seconds=30)):
            with django_capture_on_commit_callbacks(execute=True):
                figures.dashboard(leader, ALL_TIME, today=TODAY)
            assert refreshes == []
        with time_machine.travel(datetime.now(UTC) + timedelta(seconds=90)):
            with django_capture_on_commit_callbacks(execute=True):
                figures.dashboard(leader, ALL_TIME, today=TODAY)
            assert len(refreshes) == 1

    def test_a_lost_generation_never_makes_old_figures_current(
        self, world, leader, refreshes, django_capture_on_commit_callbacks
    ):
        figures.dashboard(leader, ALL_TIME, today=TODAY)
        cache.delete(figures.GENERATION_KEY)  # evicted, or a cache restarted
        with django_capture_on_commit_callbacks(execute=True):
            assert figures.dashboard(leader, ALL_TIME, today=TODAY).kept
        assert len(refreshes) == 1


class TestCacheDown:
    def test_an_unreachable_cache_computes_the_figures(self, world, leader, settings):
        settings.CACHES = {
            "default": {
                "BACKEND": "coe.redis_cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
                "OPTIONS": {"socket_connect_timeout": 0.2},
            }
        }
        result = figures.dashboard(leader, ALL_TIME, today=TODAY)
        assert not result.kept
        assert result.metrics["incidents_total"] == 4
