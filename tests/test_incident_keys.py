"""Incident keys tell nothing and are never given twice (issue 16).

Before: keys were the largest number of the year plus one, restricted incidents included, so a gap at
INC-2026-0003 told outsiders a restricted incident existed, a deleted incident's key was given again, and
with 8 workers and 16 clients creating at once 2 of 480 creations failed (five clashes on the unique index).
Now public incidents are numbered from a counter row per year, restricted ones get opaque keys
(incidents/models/keys.py).
"""

import re
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from incidents import services
from incidents.models import Incident, IncidentKeyCounter
from incidents.models.keys import take_numbers

from .factories import GroupFactory, IncidentFactory, UserFactory

RESTRICTED_KEY = re.compile(r"RST-2026-[0-9A-HJKMNP-TV-Z]{8}")
IN_2026 = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def public_numbers(year: int = 2026) -> list[int]:
    prefix = f"INC-{year}-"
    return sorted(
        int(k.removeprefix(prefix))
        for k in Incident.objects.filter(key__startswith=prefix).values_list("key", flat=True)
    )


@pytest.mark.django_db
class TestKeys:
    def test_restricted_incidents_leave_no_gap_in_the_public_numbers(self):
        group = GroupFactory(name="security")
        first = IncidentFactory(started_at=IN_2026)
        secret = IncidentFactory(started_at=IN_2026, restricted=True, access_group=group)
        second = IncidentFactory(started_at=IN_2026)
        assert (first.key, second.key) == ("INC-2026-0001", "INC-2026-0002")
        assert RESTRICTED_KEY.fullmatch(secret.key), secret.key

    def test_restricted_keys_are_opaque(self):
        group = GroupFactory(name="security")
        keys = {IncidentFactory(started_at=IN_2026, restricted=True, access_group=group).key for _ in range(20)}
        assert len(keys) == 20
        assert all(RESTRICTED_KEY.fullmatch(key) for key in keys)
        # Nothing numbers them: they do not count one another.
        assert not IncidentKeyCounter.objects.exclude(year=2026).exists()
        assert not IncidentKeyCounter.objects.filter(year=2026).exists()

    def test_a_deleted_incidents_key_is_never_given_again(self):
        IncidentFactory(started_at=IN_2026)
        last = IncidentFactory(started_at=IN_2026)
        assert last.key == "INC-2026-0002"
        last.delete()
        assert IncidentFactory(started_at=IN_2026).key == "INC-2026-0003"

    def test_a_creation_that_rolls_back_gives_its_number_back(self):
        IncidentFactory(started_at=IN_2026)
        with transaction.atomic():
            IncidentFactory(started_at=IN_2026)
            transaction.set_rollback(True)  # the rest of the write failed
        assert IncidentFactory(started_at=IN_2026).key == "INC-2026-0002"

    def test_years_are_numbered_apart(self):
        assert IncidentFactory(started_at=IN_2026).key == "INC-2026-0001"
        assert IncidentFactory(started_at=datetime(2025, 12, 31, tzinfo=UTC)).key == "INC-2025-0001"
        assert IncidentFactory(started_at=IN_2026).key == "INC-2026-0002"
        assert list(take_numbers(2026, 3)) == [3, 4, 5]

    def test_numbers_go_on_past_four_digits(self):
        IncidentKeyCounter.objects.create(year=2026, last=9999)
        assert IncidentFactory(started_at=IN_2026).key == "INC-2026-10000"


@pytest.mark.django_db(transaction=True)
def test_sixteen_writers_creating_at_once_all_succeed_with_distinct_gap_free_keys(roles):
    """16 threads, each its own connection, creating 6 incidents each through the service at once
    (one in four restricted): no creation fails, every key differs, the public numbers have no gap."""
    writers, per_writer = 16, 6
    users = [UserFactory(username=f"writer{n}") for n in range(writers)]
    group = GroupFactory(name="security")
    for user in users:
        user.groups.add(group)
    start = threading.Barrier(writers)
    failures: list[BaseException] = []
    created: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                restricted = (n + i) % 4 == 0
                incident = services.incident_create(
                    user=users[n],
                    data={
                        "title": f"Writer {n} incident {i}",
                        "severity": "SEV3",
                        "started_at": IN_2026,
                        "primary_cause": "change_config",
                        "restricted": restricted,
                        "access_group": group if restricted else None,
                        "services": ["checkout", f"svc-{n % 3}"],
                        "regions": ["us-east-1"],
                    },
                )
                with lock:
                    created.append((incident.key, restricted))
        except BaseException as error:  # every failure is the finding
            with lock:
                failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(created) == writers * per_writer
    keys = [key for key, _ in created]
    assert len(set(keys)) == len(keys)
    public = sum(1 for _, restricted in created if not restricted)
    assert public_numbers() == list(range(1, public + 1))
    assert all(RESTRICTED_KEY.fullmatch(key) for key, restricted in created if restricted)
    assert IncidentKeyCounter.objects.get(year=2026).last == public
