"""One write path: the pages, the COE editor and the API all write through incidents.services.

- Closing an action item stamps completed_at whichever way it is closed (the COE editor, the
  item's page, the API), so the dashboard counts it done on time; reopening clears it.
- The incident form and the API apply the same access-group rule.
- The services that write what the dashboard reads move its cache generation on, once a call,
  when the transaction commits; the others leave it alone. So do the seed loader and the bulk
  generator, which write without the services on purpose.
"""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from incidents import figures, services
from incidents.generate import generate
from incidents.metrics import Scope, compute_dashboard_metrics
from incidents.models import ActionItem, ApiToken, CoeDocument, Incident, TimelineEvent, TokenScope
from incidents.models.vocab import ActionStatus, ActionType, CoeStatus, TimelineKind
from incidents.seed.loader import load

from .factories import ActionItemFactory, GroupFactory, IncidentFactory, UserFactory
from .test_coe_pages import coe_url, editor_form
from .test_incident_forms import event_data, field_block, incident_data, read_form

pytestmark = pytest.mark.django_db

API = "/api/v1"


def api_client(user) -> Client:
    _, plain = ApiToken.issue(user=user, name="tests", scope=TokenScope.WRITE)
    return Client(headers={"Authorization": f"Bearer {plain}"})


def item_counts(user) -> dict:
    items = compute_dashboard_metrics(user, Scope(), today=timezone.localdate())["action_items"]
    return {state: items[state] for state in ("open", "overdue", "done_on_time", "done_late")}


# --------------------------------------------------------------------------
# Closing an action item, three ways
# --------------------------------------------------------------------------


@pytest.fixture
def open_item(reviewer):
    """An open item due in a week, on an incident of ten days ago with a draft COE."""
    incident = IncidentFactory(
        title="Checkout errors",
        started_at=timezone.now() - timedelta(days=10),
        detected_at=None,
        mitigated_at=None,
        resolved_at=None,
    )
    services.coe_start(incident=incident, user=reviewer)
    return ActionItemFactory(incident=incident, owner=reviewer, due_date=timezone.localdate() + timedelta(days=7))


def set_status_in_editor(client, item: ActionItem, status: str):
    form = editor_form(client, item.incident)
    assert form["items-0-id"] == str(item.pk)
    form["items-0-status"] = status
    return client.post(coe_url(item.incident), form)


def set_status_on_page(client, item: ActionItem, status: str):
    return client.post(f"/incidents/{item.incident.key}/actions/{item.pk}/", {"status": status})


def close_through_api(user, item: ActionItem):
    return api_client(user).post(f"{API}/action-items/{item.pk}/close/")


@pytest.mark.parametrize("way", ["editor", "page", "api"])
def test_closing_an_item_any_way_stamps_it_and_the_dashboard_counts_it_on_time(way, client_for, reviewer, open_item):
    assert item_counts(reviewer) == {"open": 1, "overdue": 0, "done_on_time": 0, "done_late": 0}
    before = timezone.now()
    if way == "editor":
        response = set_status_in_editor(client_for(reviewer), open_item, ActionStatus.DONE)
    elif way == "page":
        response = set_status_on_page(client_for(reviewer), open_item, ActionStatus.DONE)
    else:
        response = close_through_api(reviewer, open_item)
    assert response.status_code in (200, 302), response.content
    open_item.refresh_from_db()
    assert open_item.status == ActionStatus.DONE
    assert before <= open_item.completed_at <= timezone.now()
    assert item_counts(reviewer) == {"open": 0, "overdue": 0, "done_on_time": 1, "done_late": 0}


@pytest.mark.parametrize("way", ["editor", "page"])
def test_reopening_an_item_clears_its_completion(way, client_for, reviewer, open_item):
    services.action_item_update(item=open_item, data={"status": ActionStatus.DONE})
    client = client_for(reviewer)
    if way == "editor":
        response = set_status_in_editor(client, open_item, ActionStatus.IN_PROGRESS)
    else:
        response = set_status_on_page(client, open_item, ActionStatus.IN_PROGRESS)
    assert response.status_code == 302
    open_item.refresh_from_db()
    assert (open_item.status, open_item.completed_at) == (ActionStatus.IN_PROGRESS, None)
    assert item_counts(reviewer)["open"] == 1


def test_closing_again_keeps_the_first_completion_time(reviewer, approver, open_item):
    done = services.action_item_update(item=open_item, data={"status": ActionStatus.DONE}, user=reviewer)
    first = done.completed_at
    # Verified by a second person (the two-person rule: tests/test_verify_two_person.py).
    verified = services.action_item_update(item=done, data={"status": ActionStatus.VERIFIED}, user=approver)
    assert verified.completed_at == first


def test_an_item_added_closed_in_the_editor_is_stamped(client_for, reviewer, open_item):
    client = client_for(reviewer)
    form = editor_form(client, open_item.incident)
    form.update(
        {
            "items-1-title": "Page the owner on the second failure",
            "items-1-action_type": ActionType.DETECT,
            "items-1-priority": "P2",
            "items-1-owner": str(reviewer.pk),
            "items-1-due_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
            "items-1-status": ActionStatus.DONE,
        }
    )
    assert client.post(coe_url(open_item.incident), form).status_code == 302
    added = ActionItem.objects.get(title="Page the owner on the second failure")
    assert added.completed_at is not None
    assert item_counts(reviewer)["done_on_time"] == 1


def test_the_items_page_shows_the_status_form_only_to_writers(client_for, reviewer, leader, open_item):
    url = f"/incidents/{open_item.incident.key}/actions/{open_item.pk}/"
    assert read_form(client_for(reviewer).get(url).content, **{"class": "status-form"})["status"] == "open"
    assert b"status-form" not in client_for(leader).get(url).content
    assert client_for(leader).post(url, {"status": ActionStatus.DONE}).status_code == 403
    open_item.refresh_from_db()
    assert open_item.status == ActionStatus.OPEN


def test_the_items_page_refuses_an_unknown_status(client_for, reviewer, open_item):
    url = f"/incidents/{open_item.incident.key}/actions/{open_item.pk}/"
    response = client_for(reviewer).post(url, {"status": "finished"})
    assert response.status_code == 200
    assert "Select a valid choice" in field_block(response.content, "status")


# --------------------------------------------------------------------------
# One access-group rule for the form and the API
# --------------------------------------------------------------------------

NEW_INCIDENT = {
    "title": "Payments degraded",
    "severity": "SEV2",
    "started_at": "2025-10-20T06:48:00Z",
    "primary_cause": "capacity_overload",
}


def create(way: str, user, group) -> tuple[bool, Incident | None]:
    """Record a new incident restricted to `group`; (accepted, the incident)."""
    if way == "form":
        client = Client()
        client.force_login(user)
        response = client.post("/incidents/new/", incident_data(restricted="on", access_group=str(group.pk)))
        if response.status_code == 200:
            assert "Select a valid choice" in field_block(response.content, "access_group")
            return False, None
        assert response.status_code == 302
    else:
        response = api_client(user).post(
            f"{API}/incidents/",
            {**NEW_INCIDENT, "restricted": True, "access_group": group.name},
            content_type="application/json",
        )
        if response.status_code == 400:
            assert "access_group" in response.json()["error"]["fields"]
            return False, None
        assert response.status_code == 201, response.content
    return True, Incident.objects.latest("pk")


def save_unchanged(way: str, user, incident: Incident) -> bool:
    """Save the incident as it is, restriction included; whether it was accepted."""
    if way == "form":
        client = Client()
        client.force_login(user)
        form = read_form(client.get(f"/incidents/{incident.key}/edit/").content, novalidate="")
        return client.post(f"/incidents/{incident.key}/edit/", form).status_code == 302
    body = {"title": incident.title, "restricted": True, "access_group": incident.access_group.name}
    response = api_client(user).patch(
        f"{API}/incidents/{incident.key}/", body, content_type="application/json", headers={"If-Match": "*"}
    )
    return response.status_code == 200


@pytest.mark.parametrize("way", ["form", "api"])
class TestAccessGroupRule:
    def test_a_member_may_restrict_to_their_group(self, way, reviewer, restricted_group):
        accepted, incident = create(way, reviewer, restricted_group)
        assert accepted
        assert (incident.restricted, incident.access_group) == (True, restricted_group)

    def test_nobody_restricts_to_a_group_they_are_not_in(self, way, outsider, restricted_group):
        assert create(way, outsider, restricted_group) == (False, None)
        assert not Incident.objects.exists()

    def test_a_superuser_may_restrict_to_any_group(self, way, roles):
        admin = UserFactory(username="ada", is_superuser=True, is_staff=True)
        accepted, incident = create(way, admin, GroupFactory(name="legal"))
        assert accepted
        assert incident.access_group.name == "legal"

    def test_an_owner_outside_the_group_may_keep_it(self, way, outsider, restricted_group):
        incident = IncidentFactory(owner=outsider, restricted=True, access_group=restricted_group)
        assert save_unchanged(way, outsider, incident)
        incident.refresh_from_db()
        assert (incident.restricted, incident.access_group) == (True, restricted_group)


def test_the_service_checks_the_stored_group_not_the_one_a_form_put_on_the_instance(outsider, restricted_group):
    incident = IncidentFactory(owner=outsider)
    incident.restricted, incident.access_group = True, restricted_group  # as a bound ModelForm leaves it
    with pytest.raises(ValidationError) as refused:
        services.incident_update(user=outsider, incident=incident, data={"access_group": restricted_group})
    assert "access_group" in refused.value.message_dict
    assert Incident.objects.get(pk=incident.pk).access_group is None


def test_the_forms_choices_are_the_services_groups(client_for, outsider, restricted_group):
    GroupFactory(name="mine").user_set.add(outsider)
    content = client_for(outsider).get("/incidents/new/").content.decode()
    block = field_block(content, "access_group")
    assert "mine" in block
    assert restricted_group.name not in block


# --------------------------------------------------------------------------
# The dashboard is told, at commit, once a call
# --------------------------------------------------------------------------


def generation():
    return cache.get(figures.GENERATION_KEY)


@pytest.fixture
def world(reviewer, approver, open_item):
    coe = open_item.incident.coe
    return {"reviewer": reviewer, "approver": approver, "item": open_item, "incident": open_item.incident, "coe": coe}


def _in_review(w):
    CoeDocument.objects.filter(pk=w["coe"].pk).update(status=CoeStatus.IN_REVIEW)
    w["coe"].refresh_from_db()


def _approved(w):
    _in_review(w)
    services.coe_approve(coe=w["coe"], user=w["approver"])


# What a write needs before it (written before the commit that is watched).
PREPARE = {"coe_approve": _in_review, "coe_return_to_draft": _approved}

WRITES_THE_DASHBOARD_READS = {
    "incident_create": lambda w: services.incident_create(user=w["reviewer"], data={**NEW_INCIDENT, "tags": ["a"]}),
    "incident_update": lambda w: services.incident_update(
        user=w["reviewer"], incident=w["incident"], data={"severity": "SEV1"}
    ),
    "action_item_create": lambda w: services.action_item_create(
        incident=w["incident"], data={"title": "Alarm on it", "action_type": ActionType.DETECT}
    ),
    "action_item_update": lambda w: services.action_item_update(item=w["item"], data={"status": ActionStatus.DONE}),
    "action_item_delete": lambda w: services.action_item_delete(item=w["item"]),
    "coe_start": lambda w: services.coe_start(incident=IncidentFactory(), user=w["reviewer"]),
    "coe_approve": lambda w: services.coe_approve(coe=w["coe"], user=w["approver"]),
    "coe_return_to_draft": lambda w: services.coe_return_to_draft(
        coe=w["coe"], user=w["approver"], reason="Missing a why"
    ),
    # A detection event of an incident with no detection time is its detection time (services/times.py).
    "timeline_event_create_detection": lambda w: services.timeline_event_create(
        incident=w["incident"],
        data={"occurred_at": timezone.now(), "kind": TimelineKind.DETECTION, "description": "Alarm"},
    ),
}

WRITES_IT_DOES_NOT_READ = {
    "coe_save": lambda w: services.coe_save(
        coe=w["coe"], user=w["reviewer"], data={"summary": "Typing."}, base_version=w["coe"].version
    ),
    "timeline_event_create": lambda w: services.timeline_event_create(
        incident=w["incident"],
        data={"occurred_at": timezone.now(), "kind": TimelineKind.ENGAGEMENT, "description": "On call paged"},
    ),
    "api_token_create": lambda w: services.api_token_create(user=w["reviewer"], name="script"),
    "notification_preference_set": lambda w: services.notification_preference_set(
        user=w["reviewer"], reminders_opt_out=True
    ),
}


@pytest.mark.parametrize("name", WRITES_THE_DASHBOARD_READS)
def test_a_write_the_dashboard_reads_moves_the_generation_on_at_commit(name, world, django_capture_on_commit_callbacks):
    PREPARE.get(name, lambda w: None)(world)
    before = generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        WRITES_THE_DASHBOARD_READS[name](world)
        assert generation() == before, "not before the commit"
    assert generation() != before
    # The dashboard's own callbacks (a workflow step also queues the relay of its notices).
    bumps = [callback for callback in callbacks if callback.__module__ == figures.__name__]
    assert len(bumps) == 1, "once per service call"


@pytest.mark.parametrize("name", WRITES_IT_DOES_NOT_READ)
def test_a_write_the_dashboard_does_not_read_leaves_the_generation(name, world, django_capture_on_commit_callbacks):
    before = generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        WRITES_IT_DOES_NOT_READ[name](world)
    assert callbacks == []
    assert generation() == before


def test_a_failed_write_tells_nobody(world, django_capture_on_commit_callbacks):
    before = generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationError):
        services.action_item_update(item=world["item"], data={"status": "finished"})
    assert callbacks == []
    assert generation() == before


def test_closing_through_the_api_moves_the_generation_on(world, django_capture_on_commit_callbacks):
    before = generation()
    with django_capture_on_commit_callbacks(execute=True):
        assert close_through_api(world["reviewer"], world["item"]).status_code == 200
    assert generation() != before


def test_timeline_pages_write_through_the_services(client_for, world):
    incident, client = world["incident"], client_for(world["reviewer"])
    base = f"/incidents/{incident.key}/timeline/"
    # An engagement: not one of the incident's own times, so the event alone is written.
    assert client.post(base, event_data(kind="engagement")).status_code == 302
    event = TimelineEvent.objects.get(incident=incident)
    edited = event_data(kind="engagement", description="Alarm fired")
    assert client.post(f"{base}{event.pk}/", edited).status_code == 302
    event.refresh_from_db()
    assert event.description == "Alarm fired"
    assert client.post(f"{base}{event.pk}/delete/").status_code == 302
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_the_seed_tells_the_dashboard_when_it_changed_something(roles, django_capture_on_commit_callbacks):
    before = generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        load()
    assert len(callbacks) == 1
    assert generation() != before
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        load()  # the database already matches the seed
    assert callbacks == []


def test_the_bulk_generator_tells_the_dashboard_once(roles, django_capture_on_commit_callbacks):
    before = generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        generate(incidents=3, seed=1)
    assert len(callbacks) == 1
    assert generation() != before
