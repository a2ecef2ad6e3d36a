"""hidden_from(user) is exactly what visible_to(user) leaves out, and the dashboard's cheaper
"not of a hidden incident" reading of the action items keeps to it."""

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import AnonymousUser

from incidents import metrics
from incidents.metrics import Period, Scope
from incidents.models import ActionItem, Incident
from incidents.models.vocab import ActionStatus

from .factories import ActionItemFactory, ControlFactory, GroupFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 1)


@pytest.fixture
def cast(restricted_group, outsider, leader):
    """Incidents of every kind of visibility, two action items each, and the people who look."""
    other_group = GroupFactory(name="payments-incident-team")
    owner = UserFactory(username="oona")  # owns a restricted incident of a group she is not in
    superuser = UserFactory(username="root", is_superuser=True)
    incidents = {
        "public": IncidentFactory(),
        "in_group": IncidentFactory(restricted=True, access_group=restricted_group),
        "other_group": IncidentFactory(restricted=True, access_group=other_group),
        "owned": IncidentFactory(restricted=True, access_group=other_group, owner=owner),
        "public_owned": IncidentFactory(owner=owner),
    }
    for n, incident in enumerate(incidents.values()):
        ActionItemFactory(incident=incident, due_date=date(2026, 1, 1 + n), status=ActionStatus.OPEN)
        ActionItemFactory(
            incident=incident,
            due_date=date(2026, 2, 1),
            status=ActionStatus.DONE,
            completed_at=datetime(2026, 1, 10 + n, tzinfo=UTC),
        )
    users = {
        "anonymous": AnonymousUser(),
        "outsider": outsider,
        "member": leader,
        "owner": owner,
        "superuser": superuser,
    }
    return incidents, users


VISIBLE = {
    "anonymous": set(),
    "outsider": {"public", "public_owned"},
    "member": {"public", "public_owned", "in_group"},
    "owner": {"public", "public_owned", "owned"},
    "superuser": {"public", "public_owned", "in_group", "other_group", "owned"},
}


@pytest.mark.parametrize("who", VISIBLE)
def test_hidden_is_the_complement_of_visible(cast, who):
    incidents, users = cast
    names = {incident.pk: name for name, incident in incidents.items()}
    visible = {names[pk] for pk in Incident.objects.visible_to(users[who]).values_list("pk", flat=True)}
    hidden = {names[pk] for pk in Incident.objects.hidden_from(users[who]).values_list("pk", flat=True)}
    assert visible == VISIBLE[who]
    assert hidden == set(incidents) - VISIBLE[who]


@pytest.mark.parametrize("who", ["outsider", "member", "owner", "superuser"])
def test_the_unfiltered_scope_reads_the_items_of_visible_incidents(cast, who):
    _incidents, users = cast
    user = users[who]
    expected = ActionItem.objects.filter(incident__in=Incident.objects.visible_to(user))
    assert set(Scope().action_items(user)) == set(expected)
    assert len(expected) == 2 * len(VISIBLE[who])
    # And the dashboard's figures from it are those of the join it replaces.
    unfiltered = Scope()
    joined = metrics.action_items(unfiltered.incidents(user), period=Period(), today=TODAY)
    assert metrics.compute_dashboard_metrics(user, unfiltered, today=TODAY)["action_items"] == joined
    assert joined["total"] == len(expected)


def test_a_filtered_scope_keeps_to_its_incidents(cast):
    incidents, users = cast
    scope = Scope(severities=("SEV1",))
    incidents["in_group"].severity = "SEV1"
    incidents["in_group"].save()
    assert set(scope.action_items(users["member"])) == set(incidents["in_group"].action_items.all())
    assert not scope.action_items(users["outsider"]).exists()


@pytest.mark.parametrize("who", ["outsider", "member", "owner", "superuser"])
def test_control_counts_keep_to_the_visible_incidents(cast, who):
    incidents, users = cast
    user = users[who]
    guard = ControlFactory(name="Two-person rule for deletes")
    guard.incidents.add(*incidents.values())
    ControlFactory(name="Unlinked")
    unfiltered = Scope()
    links = unfiltered.control_links(user)
    assert {link.incident_id for link in links} == {incidents[name].pk for name in VISIBLE[who]}
    by_name = {c["name"]: c["incidents"] for c in metrics.controls(unfiltered.incidents(user), links)}
    assert by_name == {"Two-person rule for deletes": len(VISIBLE[who]), "Unlinked": 0}
    # The same figures as from the incidents themselves.
    assert metrics.controls(unfiltered.incidents(user)) == metrics.controls(unfiltered.incidents(user), links)
