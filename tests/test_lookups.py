"""`ilike` (incidents/lookups.py): icontains everywhere, ILIKE on PostgreSQL."""

import pytest
from django.db import connection

from incidents.models import Incident

from .factories import IncidentFactory

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
        ("Ünï", ["Ünïcode"]),  # (SQLite folds case for ASCII only)
        ("nothing", []),
    ],
)
def test_ilike_is_a_case_insensitive_substring_match(titles, word, expected):
    found = Incident.objects.filter(title__ilike=word).order_by("title").values_list("title", flat=True)
    assert list(found) == sorted(expected)
    assert list(found) == list(
        Incident.objects.filter(title__icontains=word).order_by("title").values_list("title", flat=True)
    )


def test_on_postgresql_it_is_ilike_on_the_column():
    sql = str(Incident.objects.filter(title__ilike="x").query)
    if connection.vendor == "postgresql":
        assert '"incidents_incident"."title" ILIKE' in sql
        assert "UPPER(" not in sql
    else:
        assert "LIKE" in sql
