"""Repeats: which incidents repeat an earlier one (same service and cause, within 90 days).

On PostgreSQL the incidents' repeat flags are kept by triggers (migration 0009); here they are
checked against the definition, worked out in Python, after every kind of write that can change
them. On both backends the dashboard's repeats hide an earlier incident the viewer may not see.
"""

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from coe.celery import app as celery_app
from incidents import metrics
from incidents.models import Incident
from incidents.models.vocab import PrimaryCause
from incidents.tasks import rebuild_repeat_flags

from .factories import IncidentFactory, ServiceFactory
from .support.repeats import expected_flags, stored_flags

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)
CAUSES = [PrimaryCause.CHANGE_CONFIG, PrimaryCause.CAPACITY_OVERLOAD, PrimaryCause.UNDETERMINED]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the flags are kept by PostgreSQL triggers")
class TestTriggers:
    @pytest.fixture
    def world(self, restricted_group):
        rng = random.Random(7)
        services = [ServiceFactory(name=f"svc-{n}") for n in range(3)]
        incidents = []
        for n in range(30):
            restricted = n % 7 == 3
            incident = IncidentFactory(
                started_at=START + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(24)),
                primary_cause=rng.choice(CAUSES),
                restricted=restricted,
                access_group=restricted_group if restricted else None,
            )
            incident.services.add(*rng.sample(services, rng.randint(0, 2)))
            incidents.append(incident)
        return rng, services, incidents

    def test_links_added_set_the_flags(self, world):
        flags = stored_flags()
        assert flags == expected_flags()
        # The data exercises every case: repeats of anyone, of only restricted ones, and none.
        assert {True, False} <= {a for a, _ in flags.values()}
        assert any(a and not p for a, p in flags.values())

    def test_every_kind_of_write_keeps_them(self, world, restricted_group):
        rng, services, incidents = world
        for step in range(40):
            incident = rng.choice(incidents)
            incident.refresh_from_db()
            kind = step % 5
            if kind == 0:
                incident.started_at += timedelta(days=rng.randrange(-60, 60))
                incident.save()
            elif kind == 1:
                incident.primary_cause = rng.choice(CAUSES)
                incident.save()
            elif kind == 2:
                incident.restricted = not incident.restricted
                incident.access_group = restricted_group if incident.restricted else None
                incident.save()
            elif kind == 3:
                incident.services.set(rng.sample(services, rng.randint(0, 3)))
            else:
                incidents.remove(incident)
                incident.delete()
                incidents.append(IncidentFactory(started_at=START + timedelta(days=rng.randrange(300))))
                incidents[-1].services.add(rng.choice(services))
            assert stored_flags() == expected_flags(), f"after step {step} (kind {kind})"

    def test_bulk_link_writes_and_deletes_keep_them(self, world):
        _rng, services, incidents = world
        through = Incident.services.through
        # Many links in one INSERT, then many incidents (and so their links) in one DELETE.
        through.objects.all().delete()
        assert stored_flags() == expected_flags()
        assert not any(a for a, _ in stored_flags().values())
        through.objects.bulk_create(
            [through(incident_id=incident.pk, service_id=services[n % 2].pk) for n, incident in enumerate(incidents)]
        )
        assert stored_flags() == expected_flags()
        Incident.objects.filter(pk__in=[i.pk for i in incidents[::3]]).delete()
        assert stored_flags() == expected_flags()

    def test_a_bulk_update_keeps_them(self, world):
        Incident.objects.filter(pk__in=[i.pk for i in world[2][::2]]).update(started_at=START + timedelta(days=100))
        assert stored_flags() == expected_flags()

    def test_a_deferred_session_skips_them_and_rebuild_catches_up(self, world):
        _rng, services, incidents = world
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL coe.defer_repeat_flags TO 'on'")
            Incident.objects.update(repeat_any=False, repeat_public=False)
            for incident in incidents:
                incident.services.add(*services)
            assert not any(a for a, _ in stored_flags().values())
            cursor.execute("SELECT incidents_repeat_rebuild()")
            cursor.execute("SET LOCAL coe.defer_repeat_flags TO 'off'")
        assert stored_flags() == expected_flags()

    def test_the_rebuild_mends_flags_and_says_how_many(self, world):
        _rng, _services, incidents = world
        right = stored_flags()
        wrong = [i.pk for i in incidents[:3]]
        # As two simultaneous writers could leave them: flags that disagree with the data.
        for pk in wrong:
            any_, public = right[pk]
            Incident.objects.filter(pk=pk).update(repeat_any=not any_, repeat_public=not public)
        out = StringIO()
        call_command("rebuild_repeat_flags", stdout=out)
        assert out.getvalue().strip() == "Repeat flags changed on 3 incidents."
        assert stored_flags() == right == expected_flags()
        # The daily task runs the same rebuild; with nothing wrong it changes nothing.
        assert rebuild_repeat_flags.apply().get() == 0


def test_the_rebuild_runs_daily():
    schedule = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert "incidents.rebuild_repeat_flags" in schedule
    assert schedule["incidents.rebuild_repeat_flags"].hour == {3}


@pytest.mark.skipif(connection.vendor == "postgresql", reason="what the command says without PostgreSQL")
def test_the_rebuild_elsewhere_says_there_is_nothing_to_do():
    out = StringIO()
    call_command("rebuild_repeat_flags", stdout=out)
    assert "PostgreSQL only" in out.getvalue()


class TestDashboardRepeats:
    def test_an_earlier_incident_the_viewer_cannot_see_does_not_make_a_repeat(self, restricted_group, outsider, leader):
        svc = ServiceFactory(name="ledger")
        hidden = IncidentFactory(started_at=START, restricted=True, access_group=restricted_group)
        later = IncidentFactory(started_at=START + timedelta(days=30))
        for incident in (hidden, later):
            incident.services.add(svc)
        scope = metrics.Scope()
        assert not metrics.repeat_incidents(scope.incidents(outsider), outsider).exists()
        assert list(metrics.repeat_incidents(scope.incidents(leader), leader)) == [later]
        # The count in whole_set's pass agrees with the list.
        assert metrics.whole_set(scope.incidents(outsider), outsider)["repeats"] == 0
        assert metrics.whole_set(scope.incidents(leader), leader)["repeats"] == 1

    def test_a_superuser_sees_every_repeat(self, restricted_group, django_user_model):
        admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
        svc = ServiceFactory(name="ledger")
        first = IncidentFactory(started_at=START, restricted=True, access_group=restricted_group)
        second = IncidentFactory(started_at=START + timedelta(days=90), restricted=True, access_group=restricted_group)
        for incident in (first, second):
            incident.services.add(svc)
        assert list(metrics.repeat_incidents(metrics.Scope().incidents(admin), admin)) == [second]

    def test_undetermined_causes_never_repeat(self, outsider):
        svc = ServiceFactory(name="ledger")
        for days in (0, 10):
            IncidentFactory(started_at=START + timedelta(days=days), primary_cause=PrimaryCause.UNDETERMINED)
        for incident in Incident.objects.all():
            incident.services.add(svc)
        assert not metrics.repeat_incidents(metrics.Scope().incidents(outsider), outsider).exists()
