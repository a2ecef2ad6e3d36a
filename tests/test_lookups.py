"""incidents/lookups.py: `ilike` (icontains written as ILIKE) and `any_of` (in, with one array parameter)."""

import pytest

from incidents.models import ActionItem, Incident

from .factories import ActionItemFactory, IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def titles():
    for title in ("Disk 100% full", "Disk 1000 full", "snake_case key", "snakeXcase key", "CHECKOUT down", "Ünïcode"):
        IncidentFactory(title=title)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("checkout", ["CHECKOUT down"]),  # any case
        ("100%", ["Disk 100% full"]),  # % is a character, not a wildcard
        ("_", ["snake_case key"]),  # and so is _
        ("\\", []),
        ("Ünï", ["Ünïcode"]),
        ("nothing", []),
    ],
)
def test_ilike_is_a_case_insensitive_substring_match(titles, word, expected):
    found = Incident.objects.filter(title__ilike=word).order_by("title").values_list("title", flat=True)
    assert list(found) == sorted(expected)
    assert list(found) == list(
        Incident.objects.filter(title__icontains=word).order_by("title").values_list("title", flat=True)
    )


def test_it_is_ilike_on_the_column():
    sql = str(Incident.objects.filter(title__ilike="x").query)
    assert '"incidents_incident"."title" ILIKE' in sql
    assert "UPPER(" not in sql


@pytest.mark.parametrize("pick", [[], [0], [0, 2], [1, 2, 3]])
def test_any_of_finds_what_in_finds(pick):
    incidents = [IncidentFactory(title=f"Incident {n}") for n in range(4)]
    ids = [incidents[n].pk for n in pick]
    for rows in (Incident.objects.all(), Incident.objects.exclude(pk__in=[])):
        assert set(rows.filter(pk__any_of=ids)) == {incidents[n] for n in pick}
        assert set(rows.exclude(pk__any_of=ids)) == set(incidents) - {incidents[n] for n in pick}
    # On a foreign key too.
    owner = incidents[0]
    ActionItemFactory(incident=owner)
    assert ActionItem.objects.filter(incident__any_of=ids).exists() == (0 in pick)


def test_the_ids_are_one_array_parameter():
    ids = list(range(1, 3001))
    sql, params = Incident.objects.filter(pk__any_of=ids).query.sql_with_params()
    assert "= ANY(%s)" in sql
    assert params == (ids,)
