"""Repeats: which incidents repeat an earlier one (same service and cause, within 90 days).

The services keep the incidents' repeat flags (incidents/repeats.py); here they are checked against
the definition, worked out in Python, after every kind of write a service makes that can change
them, and the rebuild mends what a write outside the services (a bulk load, the admin, raw SQL) left.
The dashboard's repeats hide an earlier incident the viewer may not see.
"""

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from coe.celery import app as celery_app
from incidents import metrics, repeats, services
from incidents.models import Incident
from incidents.models.vocab import PrimaryCause
from incidents.tasks import rebuild_repeat_flags

from .factories import IncidentFactory, ServiceFactory, UserFactory
from .support.repeats import expected_flags, stored_flags

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)
CAUSES = [PrimaryCause.CHANGE_CONFIG, PrimaryCause.CAPACITY_OVERLOAD, PrimaryCause.UNDETERMINED]


class TestServicesKeepThem:
    @pytest.fixture
    def world(self, restricted_group):
        rng = random.Random(7)
        services_ = [ServiceFactory(name=f"svc-{n}") for n in range(3)]
        incidents = []
        for n in range(30):
            restricted = n % 7 == 3
            incident = IncidentFactory(
                started_at=START + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(24)),
                primary_cause=rng.choice(CAUSES),
                restricted=restricted,
                access_group=restricted_group if restricted else None,
            )
            incident.services.add(*rng.sample(services_, rng.randint(0, 2)))
            incidents.append(incident)
        # The factories write rows directly; the rebuild sets the flags they skipped.
        repeats.rebuild()
        return rng, services_, incidents

    def test_the_data_exercises_every_case(self, world):
        flags = stored_flags()
        assert flags == expected_flags()
        # Repeats of anyone, of only restricted ones, and none.
        assert {True, False} <= {a for a, _ in flags.values()}
        assert any(a and not p for a, p in flags.values())

    def test_every_kind_of_service_write_keeps_them(self, world, restricted_group):
        rng, services_, incidents = world
        admin = UserFactory(username="root", is_superuser=True)
        for step in range(40):
            incident = rng.choice(incidents)
            incident.refresh_from_db()
            kind = step % 5
            if kind == 0:
                # The incident's times move together (detection cannot come before the start).
                shift = timedelta(days=rng.randrange(-60, 60))
                times = ("started_at", "detected_at", "mitigated_at", "resolved_at")
                data = {name: getattr(incident, name) + shift for name in times if getattr(incident, name)}
            elif kind == 1:
                data = {"primary_cause": rng.choice(CAUSES)}
            elif kind == 2:
                restricted = not incident.restricted
                data = {"restricted": restricted, "access_group": restricted_group if restricted else None}
            elif kind == 3:
                data = {"services": [s.name for s in rng.sample(services_, rng.randint(0, 3))]}
            if kind < 4:
                services.incident_update(user=admin, incident=incident, data=data)
            else:
                created = services.incident_create(
                    user=admin,
                    data={
                        "title": f"New {step}",
                        "severity": "SEV3",
                        "started_at": START + timedelta(days=rng.randrange(300)),
                        "primary_cause": rng.choice(CAUSES[:2]),
                        "services": [rng.choice(services_).name],
                    },
                )
                incidents.append(created)
            assert stored_flags() == expected_flags(), f"after step {step} (kind {kind})"

    def test_a_write_outside_the_services_is_mended_by_the_rebuild(self, world):
        _rng, services_, incidents = world
        for incident in incidents:
            incident.services.add(*services_)
        Incident.objects.filter(pk__in=[i.pk for i in incidents[::3]]).delete()
        assert stored_flags() != expected_flags()
        assert repeats.rebuild() > 0
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


class TestDashboardRepeats:
    def test_an_earlier_incident_the_viewer_cannot_see_does_not_make_a_repeat(self, restricted_group, outsider, leader):
        svc = ServiceFactory(name="ledger")
        hidden = IncidentFactory(started_at=START, restricted=True, access_group=restricted_group)
        later = IncidentFactory(started_at=START + timedelta(days=30))
        for incident in (hidden, later):
            incident.services.add(svc)
        repeats.rebuild()
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
        repeats.rebuild()
        assert list(metrics.repeat_incidents(metrics.Scope().incidents(admin), admin)) == [second]

    def test_undetermined_causes_never_repeat(self, outsider):
        svc = ServiceFactory(name="ledger")
        for days in (0, 10):
            IncidentFactory(started_at=START + timedelta(days=days), primary_cause=PrimaryCause.UNDETERMINED)
        for incident in Incident.objects.all():
            incident.services.add(svc)
        assert repeats.rebuild() == 0
        assert not metrics.repeat_incidents(metrics.Scope().incidents(outsider), outsider).exists()
