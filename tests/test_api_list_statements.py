"""Incident lists run a statement compiled once per shape of request (incidents/api/list_statements.py).

What must hold: every list answers exactly as the queryset built for that request would (the same
SQL with the same parameters, so the same rows and links), whoever asks after whom; a shape whose
stand-ins the ORM would transform is compiled every time instead.
"""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.api import list_statements
from incidents.models import ApiToken, Incident
from incidents.models import vocab as v

from .factories import AIInvolvementFactory, CoeDocumentFactory, GroupFactory, IncidentFactory, ServiceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_statements():
    list_statements._statements.clear()
    yield
    list_statements._statements.clear()


@pytest.fixture
def incidents(restricted_group, leader):
    """Twenty incidents over forty days, some sharing a start, with a spread of causes and parts, and
    restricted ones: one the group sees, one in a group of nobody that only its owner (the leader) sees."""
    checkout = ServiceFactory(name="checkout")
    causes = [v.PrimaryCause.CHANGE_CONFIG, v.PrimaryCause.CAPACITY_OVERLOAD, v.PrimaryCause.DEPENDENCY_FAILURE]
    severities = [v.Severity.SEV1, v.Severity.SEV2, v.Severity.SEV3]
    made = []
    for n in range(20):
        incident = IncidentFactory(
            title=f"Checkout errors {n}" if n % 3 == 0 else f"Latency {n}",
            started_at=T0 + timedelta(days=2 * (n // 2)),  # pairs share a start: ties end on the id
            primary_cause=causes[n % 3],
            severity=severities[n % 3],
        )
        if n % 2 == 0:
            incident.services.add(checkout)
        if n % 4 == 0:
            AIInvolvementFactory(incident=incident)
        if n % 5 == 0:
            CoeDocumentFactory(incident=incident)
        made.append(incident)
    made.append(IncidentFactory(title="Group secret", started_at=T0, restricted=True, access_group=restricted_group))
    nobody = GroupFactory(name="nobody-here")
    made.append(
        IncidentFactory(title="Owner secret", started_at=T0, restricted=True, access_group=nobody, owner=leader)
    )
    return made


def _client(user) -> Client:
    _, plain = ApiToken.issue(user=user, name="tests", scope="read")
    return Client(headers={"Authorization": f"Bearer {plain}"})


URLS = [
    "/api/v1/incidents/",
    "/api/v1/incidents/?page_size=3",
    "/api/v1/incidents/?page_size=4&primary_cause=change_config&started_after=2025-03-05T00:00:00Z"
    "&started_before=2025-04-01T00:00:00Z",
    "/api/v1/incidents/?page_size=4&primary_cause=capacity_overload&started_after=2025-03-01T00:00:00Z",
    "/api/v1/incidents/?page_size=3&severity=SEV1&severity=SEV3",
    "/api/v1/incidents/?page_size=3&ordering=key",
    "/api/v1/incidents/?page_size=3&ordering=-severity",
    "/api/v1/incidents/?page_size=3&ordering=updated_at",
    "/api/v1/incidents/?page_size=3&service=checkout",
    "/api/v1/incidents/?page_size=3&search=checkout",
    "/api/v1/incidents/?page_size=3&ai_involved=true",
    "/api/v1/incidents/?page_size=3&ai_involved=false&coe_status=none",
    "/api/v1/feed/?page_size=3",
    "/api/v1/feed/?page_size=3&updated_since=2020-01-01T00:00:00Z",
]


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _walk(client: Client, url: str) -> list[tuple[str, bytes, list[str]]]:
    """The list's pages forward to the end (at most eight), then one page back from there:
    (url, body, the SQL run) for each."""
    seen = []

    def get(url: str) -> dict:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content
        # The token's lookup and touch come and go with the token's memory: the list's own statements.
        ran = [q["sql"] for q in queries.captured_queries if '"incidents_apitoken"' not in q["sql"]]
        seen.append((url, response.content, ran))
        return response.json()

    body = get(url)
    while body["next"] and len(seen) < 8:
        body = get(_path(body["next"]))
    if body["previous"]:
        get(_path(body["previous"]))
    return seen


def _orm_only(monkeypatch):
    """Every shape compiled each time: the queryset the request builds, as before the statements."""
    monkeypatch.setattr(list_statements, "_compile", lambda listing: None)


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("who", ["reviewer", "admin_user"])  # a member of a group; a superuser
def test_a_list_answers_as_its_queryset_would(request, monkeypatch, incidents, url, who):
    client = _client(request.getfixturevalue(who))
    compiled = _walk(client, url)
    assert len(compiled) >= 1
    assert any(kept is not None for kept in list_statements._statements.values()), "no statement was kept"
    _orm_only(monkeypatch)
    built = _walk(client, url)
    # The same pages, byte for byte, and the very same SQL with the same values put in.
    assert [(u, body) for u, body, _ in compiled] == [(u, body) for u, body, _ in built]
    assert [sql for *_, sql in compiled] == [sql for *_, sql in built]


def test_whoever_asked_first_the_next_caller_sees_only_their_own(incidents, leader, outsider, reviewer):
    # One shape (non-superusers, no filters, the first page) for all three: their ids go in per request.
    titles = {}
    for user in (leader, outsider, reviewer):
        response = _client(user).get("/api/v1/incidents/?page_size=100")
        titles[user.username] = {row["title"] for row in response.json()["results"]}
    assert len(list_statements._statements) == 1
    assert {"Group secret", "Owner secret"} <= titles[leader.username]
    assert "Group secret" in titles[reviewer.username]
    assert "Owner secret" not in titles[reviewer.username]
    assert not {"Group secret", "Owner secret"} & titles[outsider.username]
    assert len(titles[outsider.username]) == Incident.objects.filter(restricted=False).count()


def test_times_and_positions_are_values_not_part_of_the_shape(incidents, reviewer):
    client = _client(reviewer)
    for day in (3, 9, 17):
        url = f"/api/v1/incidents/?page_size=2&started_after=2025-03-{day:02}T00:00:00Z"
        first = client.get(url).json()
        assert all(row["started_at"] >= f"2025-03-{day:02}" for row in first["results"])
        client.get(_path(first["next"]))
    # The first pages share one statement, the second pages (after a position) another.
    assert len(list_statements._statements) == 2


def test_a_stand_in_the_orm_transforms_makes_the_shape_compiled_each_time(incidents, reviewer, rf):
    class Contains:
        """A listing whose builder puts its value inside a pattern, as icontains does."""

        values = ["checkout"]

        def build(self, values):
            return Incident.objects.filter(title__icontains=values[0]).values("pk")

    assert list_statements._compile(Contains()) is None

    class Plain(Contains):
        def build(self, values):
            return Incident.objects.filter(title=values[0]).values("pk")

    sql, slots = list_statements._compile(Plain())
    assert slots == [("value", 0)]
    assert re.search(r"WHERE .*title.* = %s", sql)


def test_a_bad_filter_or_cursor_is_still_a_400(incidents, reviewer):
    client = _client(reviewer)
    assert client.get("/api/v1/incidents/?started_after=yesterday").status_code == 400
    assert client.get("/api/v1/incidents/?cursor=nonsense").status_code == 400
    assert client.get("/api/v1/incidents/?severty=SEV1").status_code == 400
    assert not list_statements._statements


def test_a_filter_whose_choices_depend_on_the_caller_is_checked_for_each_caller(incidents, leader, outsider):
    # The service of the leader's restricted incident is a choice for the leader only; the form classes
    # the API keeps per set of filters (api/filtering.py) must not keep the leader's choices for others.
    secret = ServiceFactory(name="vault-secret")
    Incident.objects.get(title="Owner secret").services.add(secret)
    url = "/api/v1/incidents/?page_size=3&service=vault-secret&primary_cause=change_config"
    for _ in range(2):
        assert _client(leader).get(url).status_code == 200
        refused = _client(outsider).get(url)
        assert refused.status_code == 400
        assert "vault-secret" not in refused.content.decode().replace(url, "")


def test_the_form_class_is_built_once_where_no_choice_depends_on_the_caller():
    from incidents.api.filtering import _only
    from incidents.filters import IncidentFilter

    plain = _only(IncidentFilter, frozenset({"primary_cause", "started_after"}))
    assert plain(data={}).get_form_class() is plain(data={"primary_cause": "capacity_overload"}).get_form_class()
    by_service = _only(IncidentFilter, frozenset({"service", "primary_cause"}))
    assert by_service(data={}).get_form_class() is not by_service(data={}).get_form_class()
