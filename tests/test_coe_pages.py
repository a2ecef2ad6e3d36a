"""The COE in the browser: who may do what, the editor (whys, action items,
autosave, conflicts), the review workflow, comments, history, export, safe
Markdown, and the query budgets of the editor and the document page.

Pages are read the way a browser reads them: `read_form` gives what the form
on the page would submit, so a test edits what the user sees and posts it back.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from incidents import services
from incidents.models import ActionItem, CoeDocument, CoeRevision, Incident, ReviewComment, TimelineEvent
from incidents.models.coe import SECTION_KEYS
from incidents.models.vocab import ActionType, CoeStatus, Priority, TimelineKind
from incidents.roles import APPROVERS, LEADERSHIP, REVIEWERS

from .factories import ActionItemFactory, IncidentFactory, TimelineEventFactory, UserFactory
from .test_incident_forms import event_data, field_block, incident_data, read_form

pytestmark = pytest.mark.django_db


HTMX = {"HTTP_HX_REQUEST": "true"}
AUTOSAVE = {"HTTP_X_AUTOSAVE": "1", **HTMX}


def coe_url(incident: Incident, rest: str = "") -> str:
    return f"/incidents/{incident.key}/coe/{rest}"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def editor_form(client, incident: Incident) -> dict:
    response = client.get(coe_url(incident))
    assert response.status_code == 200
    return read_form(response.content, id="coe-form")


def member(role: str, username: str):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def incident():
    return IncidentFactory(title="Checkout errors", summary="Checkout requests failed.")


@pytest.fixture
def draft(incident, reviewer):
    """A COE started by rita (reviewer): she owns it and is its first author."""
    return services.coe_start(incident=incident, user=reviewer)


# --------------------------------------------------------------------------
# 1. Who may do what
# --------------------------------------------------------------------------


class Site:
    """An incident with one timeline event and a draft COE started by a third person (sam)."""

    def __init__(self, *, restricted_group=None):
        self.incident = IncidentFactory(
            title="Secret checkout outage",
            restricted=restricted_group is not None,
            access_group=restricted_group,
        )
        self.event = TimelineEventFactory(incident=self.incident, description="Errors begin")
        starter = member(REVIEWERS, "sam")
        if restricted_group is not None:
            starter.groups.add(restricted_group)
        self.coe = services.coe_start(incident=self.incident, user=starter)
        self.group = restricted_group

    def incident_form(self) -> dict:
        data = incident_data(title="Secret checkout outage, edited")
        if self.group is not None:
            data.update(restricted="on", access_group=str(self.group.pk))
        return data

    def state(self) -> tuple:
        """Everything a request in the matrix could change."""
        coe = CoeDocument.objects.get(pk=self.coe.pk)
        return (
            Incident.objects.count(),
            Incident.objects.get(pk=self.incident.pk).title,
            TimelineEvent.objects.count(),
            TimelineEvent.objects.get(pk=self.event.pk).description if self.event_exists() else None,
            coe.version,
            coe.status,
            coe.summary,
            ReviewComment.objects.count(),
            CoeRevision.objects.count(),
        )

    def event_exists(self) -> bool:
        return TimelineEvent.objects.filter(pk=self.event.pk).exists()


# name: (method, path with {key} and {event}, data to post)
ENDPOINTS = {
    "list": ("get", "/incidents/", None),
    "detail": ("get", "/incidents/{key}/", None),
    "new": ("get", "/incidents/new/", None),
    "new (post)": ("post", "/incidents/new/", lambda site: incident_data(title="Another outage")),
    "edit": ("get", "/incidents/{key}/edit/", None),
    "edit (post)": ("post", "/incidents/{key}/edit/", lambda site: site.incident_form()),
    "timeline": ("get", "/incidents/{key}/timeline/", None),
    "timeline (add)": ("post", "/incidents/{key}/timeline/", lambda site: event_data()),
    "timeline event": ("get", "/incidents/{key}/timeline/{event}/", None),
    "timeline event (save)": (
        "post",
        "/incidents/{key}/timeline/{event}/",
        # Still the incident's start, at its time (23:48 PDT is 06:48 UTC): an edit that keeps it in order.
        lambda site: event_data(kind="start", occurred_local="2025-10-19T23:48", description="Errors begin, retold"),
    ),
    "timeline event (delete)": ("post", "/incidents/{key}/timeline/{event}/delete/", lambda site: {}),
    "coe": ("get", "/incidents/{key}/coe/", None),
    "coe (save)": (
        "post",
        "/incidents/{key}/coe/",
        lambda site: {
            "base_version": site.coe.version,
            "summary": "Rewritten",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
        },
    ),
    "coe preview": ("post", "/incidents/{key}/coe/preview/", lambda site: {"section": "summary", "summary": "**x**"}),
    "coe submit": ("post", "/incidents/{key}/coe/submit/", lambda site: {}),
    "coe approve": ("post", "/incidents/{key}/coe/approve/", lambda site: {}),
    "coe publish": ("post", "/incidents/{key}/coe/publish/", lambda site: {}),
    "coe reopen": ("post", "/incidents/{key}/coe/reopen/", lambda site: {"reason": "Needs more data"}),
    "coe comment": (
        "post",
        "/incidents/{key}/coe/comments/",
        lambda site: {"section": "summary", "body": "Which graph shows this?"},
    ),
    "coe history": ("get", "/incidents/{key}/coe/history/", None),
    "coe export": ("get", "/incidents/{key}/coe/export.md", None),
}

# Expected status for each role. Writes that are allowed redirect (302) even
# when the workflow refuses them (a draft cannot be approved): the refusal is
# a message, tested below. Leadership reads everything and writes nothing.
MATRIX = [
    # endpoint                  reviewer approver leader
    ("list", 200, 200, 200),
    ("detail", 200, 200, 200),
    ("new", 200, 200, 403),
    ("new (post)", 302, 302, 403),
    ("edit", 200, 200, 403),
    ("edit (post)", 302, 302, 403),
    ("timeline", 200, 200, 200),
    ("timeline (add)", 302, 302, 403),
    ("timeline event", 200, 200, 403),
    ("timeline event (save)", 302, 302, 403),
    ("timeline event (delete)", 302, 302, 403),
    ("coe", 200, 200, 200),
    ("coe (save)", 302, 302, 403),
    ("coe preview", 200, 200, 200),
    ("coe submit", 302, 302, 403),
    ("coe approve", 403, 302, 403),
    ("coe publish", 403, 302, 403),
    ("coe reopen", 403, 302, 403),
    ("coe comment", 302, 302, 403),
    ("coe history", 200, 200, 200),
    ("coe export", 200, 200, 200),
]
assert {row[0] for row in MATRIX} == set(ENDPOINTS)

KEYED = [name for name, (_, path, _) in ENDPOINTS.items() if "{key}" in path]


def _request(client, site: Site, name: str):
    method, path, data = ENDPOINTS[name]
    url = path.format(key=site.incident.key, event=site.event.pk)
    if method == "get":
        return client.get(url)
    return client.post(url, data(site))


class TestPermissions:
    @pytest.mark.parametrize("restricted", [False, True], ids=["public", "restricted"])
    @pytest.mark.parametrize(
        ("name", "role", "expected"),
        [
            (name, role, expected)
            for name, *by_role in MATRIX
            for role, expected in zip(("reviewer", "approver", "leader"), by_role, strict=True)
        ],
    )
    def test_matrix(self, request, client_for, restricted_group, name, role, expected, restricted):
        # Everyone in this matrix is in the restricted group: a restricted
        # incident behaves for them exactly like a public one.
        site = Site(restricted_group=restricted_group if restricted else None)
        user = request.getfixturevalue(role)
        before = site.state()
        response = _request(client_for(user), site, name)
        assert response.status_code == expected, response.content[:500]
        if expected == 302:
            assert not response["Location"].startswith(reverse("login"))
        if expected == 403:
            assert site.state() == before, "a refused request changed something"

    @pytest.mark.parametrize("name", list(ENDPOINTS))
    def test_anonymous_is_sent_to_login(self, client, name):
        site = Site()
        before = site.state()
        response = _request(client, site, name)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
        assert site.state() == before

    @pytest.mark.parametrize("role", [REVIEWERS, APPROVERS, LEADERSHIP])
    @pytest.mark.parametrize("name", KEYED)
    def test_outsider_gets_404_on_every_page_of_a_restricted_incident(
        self, client_for, outsider, restricted_group, name, role
    ):
        # Whatever their role, someone outside the group must not learn that the
        # incident exists: never a 403 (which would confirm it), always 404.
        site = Site(restricted_group=restricted_group)
        stranger = outsider if role == REVIEWERS else member(role, f"outside-{role}")
        before = site.state()
        response = _request(client_for(stranger), site, name)
        assert response.status_code == 404
        assert site.incident.title.encode() not in response.content
        assert site.state() == before

    def test_outsider_never_sees_it_listed_or_counted(self, client_for, outsider, restricted_group):
        site = Site(restricted_group=restricted_group)
        IncidentFactory(title="Public outage")
        content = client_for(outsider).get("/incidents/", {"q": "checkout"}).content
        assert site.incident.title.encode() not in content
        assert site.incident.key.encode() not in content
        content = client_for(outsider).get("/incidents/").content
        assert b"1 incident you can see" in content

    def test_leader_gets_the_read_only_document(self, client_for, leader, draft, incident):
        response = client_for(leader).get(coe_url(incident))
        assert response.status_code == 200
        assert b'id="coe-form"' not in response.content
        assert b"Start the COE" not in response.content

    def test_starting_a_coe_needs_a_writer(self, client_for, leader, reviewer, incident):
        assert client_for(leader).post(coe_url(incident)).status_code == 403
        assert not CoeDocument.objects.exists()
        assert client_for(reviewer).post(coe_url(incident)).status_code == 302
        assert CoeDocument.objects.filter(incident=incident).exists()


# --------------------------------------------------------------------------
# Starting and editing
# --------------------------------------------------------------------------


class TestStart:
    def test_page_offers_to_start_one(self, client_for, reviewer, incident):
        response = client_for(reviewer).get(coe_url(incident))
        assert response.status_code == 200
        assert b"No COE yet" in response.content
        assert b"Start the COE" in response.content

    def test_start_prefills_from_the_incident_and_records_revision_1(self, client_for, reviewer, incident):
        response = client_for(reviewer).post(coe_url(incident))
        assert response.status_code == 302
        assert response["Location"] == coe_url(incident)
        coe = CoeDocument.objects.get(incident=incident)
        assert coe.summary == "Checkout requests failed."
        assert coe.owner == reviewer
        assert list(coe.authors.all()) == [reviewer]
        assert coe.status == CoeStatus.DRAFT
        revision = coe.revisions.get()
        assert (revision.number, revision.note, revision.saved_by) == (1, "Started", reviewer)

    def test_starting_twice_keeps_the_first(self, client_for, reviewer, approver, incident, draft):
        response = client_for(approver).post(coe_url(incident))
        # A draft exists, so this POST is an editor save with no base version: refused, nothing lost.
        assert response.status_code == 400
        assert CoeDocument.objects.get().owner == reviewer


class TestEditor:
    def test_writer_gets_the_editor_with_guidance_and_one_empty_chain(self, client_for, reviewer, draft, incident):
        response = client_for(reviewer).get(coe_url(incident))
        form = read_form(response.content, id="coe-form")
        assert set(SECTION_KEYS) <= set(form)
        assert form["base_version"] == "1"
        assert form["summary"] == "Checkout requests failed."
        assert [form[f"whys-0-link-{n}"] for n in range(3)] == ["", "", ""]
        assert "whys-1-cause" not in form
        assert b"What was the root cause? Name the system or control that failed" in response.content

    def test_save_stores_sections_bumps_the_version_and_records_who(
        self, client_for, reviewer, approver, draft, incident
    ):
        client = client_for(approver)
        form = editor_form(client, incident)
        form["impact"] = "About 12,000 orders failed."
        response = client.post(coe_url(incident), form)
        assert response.status_code == 302
        assert "Saved (version 2)." in messages_of(response)
        draft.refresh_from_db()
        assert draft.impact == "About 12,000 orders failed."
        assert draft.summary == "Checkout requests failed."
        assert draft.version == 2
        revision = draft.revisions.first()
        assert (revision.number, revision.saved_by) == (2, approver)
        assert revision.data["impact"] == "About 12,000 orders failed."

    def test_a_reviewer_who_edits_becomes_an_author(self, client_for, reviewer, outsider, draft, incident):
        client = client_for(outsider)  # any writer who can see the incident
        client.post(coe_url(incident), editor_form(client, incident))
        assert set(draft.authors.all()) == {reviewer, outsider}

    def test_text_is_kept_exactly_as_typed(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        form["lessons_lucky"] = "  indented\n\n- list item\n"
        client.post(coe_url(incident), form)
        draft.refresh_from_db()
        assert draft.lessons_lucky == "  indented\n\n- list item\n"

    def test_edits_to_a_coe_in_review_are_refused(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        CoeDocument.objects.filter(pk=draft.pk).update(status=CoeStatus.IN_REVIEW)
        form["summary"] = "Changed after submitting"
        response = client.post(coe_url(incident), form)
        assert response.status_code == 409
        assert b"This COE is not a draft you can edit." in response.content
        draft.refresh_from_db()
        assert draft.summary == "Checkout requests failed."
        assert draft.version == 1

    def test_a_non_draft_shows_the_document_even_to_writers(self, client_for, reviewer, draft, incident):
        CoeDocument.objects.filter(pk=draft.pk).update(status=CoeStatus.APPROVED)
        response = client_for(reviewer).get(coe_url(incident))
        assert response.status_code == 200
        assert b'id="coe-form"' not in response.content
        assert b"Checkout requests failed." in response.content


class TestWhysEditor:
    """The whys buttons submit the whole form: nothing typed anywhere may be lost."""

    def _typed(self, client, incident) -> dict:
        form = editor_form(client, incident)
        form.update(
            {
                "summary": "Typed summary",
                "whys-0-cause": "Empty DNS record",
                "whys-0-link-0": "The plan applied was empty",
                "whys-0-link-1": "An old planner overwrote a new plan",
                "whys-0-link-2": "No check compares plan generations",
            }
        )
        return form

    def test_add_link_keeps_everything_and_adds_an_empty_why(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        response = client.post(
            coe_url(incident), {**self._typed(client, incident), "whys_action": "add_link:0"}, follow=True
        )
        form = read_form(response.content, id="coe-form")
        assert form["summary"] == "Typed summary"
        assert form["whys-0-cause"] == "Empty DNS record"
        assert [form[f"whys-0-link-{n}"] for n in range(4)] == [
            "The plan applied was empty",
            "An old planner overwrote a new plan",
            "No check compares plan generations",
            "",
        ]

    def test_add_chain_adds_a_cause_with_three_empty_whys(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        response = client.post(
            coe_url(incident), {**self._typed(client, incident), "whys_action": "add_chain"}, follow=True
        )
        form = read_form(response.content, id="coe-form")
        assert form["whys-0-link-2"] == "No check compares plan generations"
        assert form["whys-1-cause"] == ""
        assert [form[f"whys-1-link-{n}"] for n in range(3)] == ["", "", ""]

    def test_remove_link_removes_only_that_why(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        response = client.post(
            coe_url(incident), {**self._typed(client, incident), "whys_action": "remove_link:0:1"}, follow=True
        )
        form = read_form(response.content, id="coe-form")
        assert form["summary"] == "Typed summary"
        assert [form["whys-0-link-0"], form["whys-0-link-1"]] == [
            "The plan applied was empty",
            "No check compares plan generations",
        ]
        assert "whys-0-link-2" not in form
        draft.refresh_from_db()
        assert draft.whys == [
            {
                "cause": "Empty DNS record",
                "links": ["The plan applied was empty", "No check compares plan generations"],
            }
        ]

    def test_remove_chain(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = {**self._typed(client, incident), "whys-1-cause": "Retry storm", "whys-1-link-0": "No backoff"}
        response = client.post(coe_url(incident), {**form, "whys_action": "remove_chain:0"}, follow=True)
        form = read_form(response.content, id="coe-form")
        assert form["whys-0-cause"] == "Retry storm"
        assert form["whys-0-link-0"] == "No backoff"
        assert "whys-1-cause" not in form

    def test_typed_whys_survive_a_later_action(self, client_for, reviewer, draft, incident):
        # Add a why, type into it, add another: the first new one keeps its text.
        client = client_for(reviewer)
        first = client.post(
            coe_url(incident), {**self._typed(client, incident), "whys_action": "add_link:0"}, follow=True
        )
        form = read_form(first.content, id="coe-form")
        form["whys-0-link-3"] = "Plans carry no generation number"
        second = client.post(coe_url(incident), {**form, "whys_action": "add_link:0"}, follow=True)
        form = read_form(second.content, id="coe-form")
        assert form["whys-0-link-3"] == "Plans carry no generation number"
        assert form["whys-0-link-4"] == ""

    def test_blank_links_and_blank_chains_are_dropped_on_save(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = self._typed(client, incident)
        form.update({"whys-0-link-1": "   ", "whys-0-link-5": "", "whys-1-cause": "", "whys-1-link-0": " "})
        assert client.post(coe_url(incident), form).status_code == 302
        draft.refresh_from_db()
        assert draft.whys == [
            {
                "cause": "Empty DNS record",
                "links": ["The plan applied was empty", "No check compares plan generations"],
            }
        ]


class TestActionItems:
    def _with_new_item(self, client, incident, owner, **overrides) -> dict:
        form = editor_form(client, incident)
        form.update(
            {
                "items-0-title": "Reject empty DNS plans in the pipeline",
                "items-0-action_type": "prevent",
                "items-0-priority": "P1",
                "items-0-owner": str(owner.pk),
                "items-0-due_date": "2026-01-31",
                "items-0-status": "open",
                "items-0-ticket_url": "https://tickets.example.com/OPS-7",
                "items-0-answers_why": "Why 3",
            }
        )
        form.update(overrides)
        return form

    def test_valid_item_is_created(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        response = client.post(coe_url(incident), self._with_new_item(client, incident, reviewer))
        assert response.status_code == 302
        item = ActionItem.objects.get()
        assert item.incident == incident
        assert (item.title, item.action_type, item.priority, item.owner, item.due_date) == (
            "Reject empty DNS plans in the pipeline",
            ActionType.PREVENT,
            Priority.P1,
            reviewer,
            date(2026, 1, 31),
        )
        assert item.ticket_url == "https://tickets.example.com/OPS-7"
        # The next editor shows it, plus a fresh empty row.
        form = editor_form(client, incident)
        assert form["items-0-title"] == "Reject empty DNS plans in the pipeline"
        assert form["items-1-title"] == ""

    def test_invalid_due_date_is_shown_beside_the_field_and_sections_still_save(
        self, client_for, reviewer, draft, incident
    ):
        client = client_for(reviewer)
        form = self._with_new_item(client, incident, reviewer, **{"items-0-due_date": "2026-02-31"})
        form["summary"] = "Summary typed with a bad item"
        response = client.post(coe_url(incident), form)
        assert response.status_code == 200
        assert "Enter a valid date." in field_block(response.content, "items-0-due_date")
        assert "Sections saved. Action items are not saved until the marked fields are fixed." in messages_of(response)
        page = read_form(response.content, id="coe-form")
        assert page["items-0-title"] == "Reject empty DNS plans in the pipeline"
        assert page["items-0-due_date"] == "2026-02-31"
        assert page["items-0-ticket_url"] == "https://tickets.example.com/OPS-7"
        assert page["summary"] == "Summary typed with a bad item"
        assert not ActionItem.objects.exists()
        draft.refresh_from_db()
        assert draft.summary == "Summary typed with a bad item"
        # The form now carries the new version, so fixing the date saves without a conflict.
        assert page["base_version"] == str(draft.version)
        page["items-0-due_date"] = "2026-02-28"
        assert client.post(coe_url(incident), page).status_code == 302
        assert ActionItem.objects.get().due_date == date(2026, 2, 28)

    def test_bad_ticket_url_is_shown_beside_the_field(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = self._with_new_item(client, incident, reviewer, **{"items-0-ticket_url": "not a url"})
        response = client.post(coe_url(incident), form)
        assert "Enter a valid URL." in field_block(response.content, "items-0-ticket_url")
        assert not ActionItem.objects.exists()

    def test_existing_item_can_be_edited_and_deleted(self, client_for, reviewer, draft, incident):
        keep = ActionItemFactory(incident=incident, title="Add an alarm on empty records", owner=reviewer)
        drop = ActionItemFactory(incident=incident, title="Look into it", owner=reviewer)
        client = client_for(reviewer)
        form = editor_form(client, incident)
        assert (form["items-0-id"], form["items-1-id"]) == (str(keep.pk), str(drop.pk))
        form["items-0-title"] = "Alarm when a DNS record is empty for 1 minute"
        form["items-1-DELETE"] = "on"
        assert client.post(coe_url(incident), form).status_code == 302
        assert list(ActionItem.objects.values_list("title", flat=True)) == [
            "Alarm when a DNS record is empty for 1 minute"
        ]

    def test_an_item_of_another_incident_cannot_be_edited_through_this_form(
        self, client_for, reviewer, draft, incident
    ):
        foreign = ActionItemFactory(title="Someone else's item")
        client = client_for(reviewer)
        form = self._with_new_item(client, incident, reviewer)
        form.update({"items-0-id": str(foreign.pk), "items-INITIAL_FORMS": "1"})
        client.post(coe_url(incident), form)
        foreign.refresh_from_db()
        assert foreign.title == "Someone else's item"
        assert foreign.incident != incident


class TestAutosave:
    def test_saves_sections_and_whys_and_swaps_in_the_new_version(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        form.update({"root_cause": "Autosaved cause", "whys-0-cause": "Autosaved why"})
        revisions = CoeRevision.objects.count()
        response = client.post(coe_url(incident), form, **AUTOSAVE)
        assert response.status_code == 200
        content = response.content.decode()
        assert "<html" not in content
        assert 'id="save-status"' in content
        assert "Saved version 2" in content
        assert re.search(r'<input[^>]*name="base_version"[^>]*value="2"[^>]*hx-swap-oob="true"', content)
        draft.refresh_from_db()
        assert (draft.root_cause, draft.version) == ("Autosaved cause", 2)
        assert draft.whys == [{"cause": "Autosaved why", "links": []}]
        assert CoeRevision.objects.count() == revisions + 1

    def test_never_creates_action_items(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = TestActionItems()._with_new_item(client, incident, reviewer)
        # Autosave runs on every pause in typing: twice here, and still no item.
        client.post(coe_url(incident), form, **AUTOSAVE)
        form["base_version"] = "2"
        response = client.post(coe_url(incident), form, **AUTOSAVE)
        assert response.status_code == 200
        assert "Action items are saved with the Save button." in response.content.decode()
        assert not ActionItem.objects.exists()

    def test_conflict_returns_the_status_line_with_409(self, client_for, reviewer, approver, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        services.coe_save(coe=draft, user=approver, data={"summary": "Arun saved this"}, base_version=1)
        form["summary"] = "Rita typed this"
        response = client.post(coe_url(incident), form, **AUTOSAVE)
        assert response.status_code == 409
        content = response.content.decode()
        assert "<html" not in content
        assert 'id="save-status"' in content
        assert "Not saved: someone else saved version 2" in content
        draft.refresh_from_db()
        assert draft.summary == "Arun saved this"

    def test_autosave_after_submission_gets_the_status_line_not_a_page(self, client_for, reviewer, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        CoeDocument.objects.filter(pk=draft.pk).update(status=CoeStatus.IN_REVIEW)
        form["summary"] = "Typed while someone submitted"
        response = client.post(coe_url(incident), form, **AUTOSAVE)
        assert response.status_code == 409
        assert b"<html" not in response.content
        assert b'id="save-status"' in response.content
        draft.refresh_from_db()
        assert draft.summary == "Checkout requests failed."


class TestConflict:
    """Two people edit the same COE; the second save must not overwrite the first."""

    def test_second_save_is_refused_with_both_versions_and_nothing_lost(
        self, client_for, reviewer, approver, draft, incident
    ):
        rita = client_for(reviewer)
        arun = Client()
        arun.force_login(approver)
        form_rita = editor_form(rita, incident)
        form_arun = editor_form(arun, incident)
        assert form_rita["base_version"] == form_arun["base_version"] == "1"

        form_rita["summary"] = "Rita: the DNS record was emptied by the planner."
        assert rita.post(coe_url(incident), form_rita).status_code == 302

        form_arun.update(
            {
                "summary": "Arun: resolver caches expired and lookups failed.",
                "whys-0-cause": "Arun typed this cause",
                "items-0-title": "Arun typed this action",
            }
        )
        response = arun.post(coe_url(incident), form_arun)
        assert response.status_code == 409
        content = response.content.decode()
        # What rita saved is shown...
        assert "rita saved this COE while you were editing" in content
        assert "Rita: the DNS record was emptied by the planner." in content
        # ...and arun's own text is still in his form, rebased on the new version.
        page = read_form(content, id="coe-form")
        assert page["summary"] == "Arun: resolver caches expired and lookups failed."
        assert page["whys-0-cause"] == "Arun typed this cause"
        assert page["items-0-title"] == "Arun typed this action"
        assert page["base_version"] == "2"
        draft.refresh_from_db()
        assert draft.summary == "Rita: the DNS record was emptied by the planner."
        assert draft.version == 2
        assert not ActionItem.objects.exists()

        # Arun merges (here: keeps both) and saves again: that one goes through.
        page["summary"] = form_rita["summary"] + "\n\n" + form_arun["summary"]
        page["items-0-title"] = ""  # he drops the half-typed action
        assert arun.post(coe_url(incident), page).status_code == 302
        draft.refresh_from_db()
        assert draft.summary.startswith("Rita:")
        assert draft.summary.endswith("lookups failed.")
        assert draft.whys[0]["cause"] == "Arun typed this cause"
        assert draft.version == 3
        assert approver in draft.authors.all()

    def test_only_differing_sections_are_listed(self, client_for, reviewer, approver, draft, incident):
        client = client_for(reviewer)
        form = editor_form(client, incident)
        services.coe_save(
            coe=draft, user=approver, data={"summary": draft.summary, "trigger": "A config push"}, base_version=1
        )
        form["impact"] = "Mine"
        response = client.post(coe_url(incident), form)
        assert response.status_code == 409
        panel = response.content.decode().split('class="panel conflict-panel"')[1].split("</section>")[0]
        assert "<h3>Trigger</h3>" in panel
        assert "<h3>Impact</h3>" in panel
        assert "<h3>Summary</h3>" not in panel


# --------------------------------------------------------------------------
# 2. The review workflow
# --------------------------------------------------------------------------

NOW = datetime(2025, 10, 21, 12, 0, tzinfo=UTC)  # a day after the factory incident was resolved

COMPLETE_SECTIONS = {
    "summary": "A configuration push emptied the DNS record of the checkout endpoint, so checkout failed.",
    "impact": "About 12,000 checkout requests failed (4% of traffic), 06:48 to 11:48 UTC; an estimate.",
    "background": "Checkout finds its endpoint through DNS.",
    "timeline_narrative": "06:48 UTC errors begin; 07:08 UTC alarm; 07:18 UTC engaged; 08:48 UTC mitigated.",
    "metrics": "Error rate graph: https://dash.example.com/checkout-errors",
    "trigger": "An automated configuration push.",
    "root_cause": "The DNS automation applied an empty plan without validation.",
    "resolution": "The record was restored from the previous plan.",
    "detection": "The checkout error-rate alarm fired after 20 minutes.",
    "q_detection": "An alarm on empty DNS records.",
    "q_diagnosis": "Page the DNS team directly from the checkout alarm.",
    "q_mitigation": "Add a runbook step to restore the last plan.",
    "q_prevention": "Reject empty plans in the pipeline.",
    "pillar_implications": "Reliability: a single record was a single point of failure.",
    "lessons_went_well": "The restore was quick.",
    "lessons_went_wrong": "Plan validation did not exist.",
    "lessons_lucky": "It happened outside peak hours.",
    "related_items": "https://tickets.example.com/OPS-1",
}
COMPLETE_WHYS = [
    {
        "cause": "The checkout DNS record was empty",
        "links": [
            "The automation applied an empty plan",
            "Nothing compared the plan with the live record",
            "The deploy pipeline has no validation step for DNS plans",
        ],
    }
]


@pytest.fixture
def complete_coe(time_machine, reviewer):
    """A draft that passes every required quality rule, written by rita, a day after resolution."""
    time_machine.move_to(NOW, tick=False)
    incident = IncidentFactory(title="Checkout DNS outage")  # 06:48 to 11:48 UTC on 2025-10-20
    minutes = {
        TimelineKind.START: 0,
        TimelineKind.DETECTION: 20,
        TimelineKind.ENGAGEMENT: 30,
        TimelineKind.MITIGATION: 120,
        TimelineKind.RESOLUTION: 300,
    }
    for kind, offset in minutes.items():
        TimelineEventFactory(incident=incident, kind=kind, occurred_at=incident.started_at + timedelta(minutes=offset))
    coe = services.coe_start(incident=incident, user=reviewer)
    coe = services.coe_save(
        coe=coe, user=reviewer, data={**COMPLETE_SECTIONS, "whys": COMPLETE_WHYS}, base_version=coe.version
    )
    ActionItemFactory(
        incident=incident,
        title="Reject empty DNS plans in the pipeline",
        owner=reviewer,
        priority=Priority.P1,
        action_type=ActionType.PREVENT,
        due_date=date(2025, 11, 30),
        ticket_url="https://tickets.example.com/OPS-2",
    )
    ActionItemFactory(
        incident=incident,
        title="Alarm when a DNS record is empty",
        owner=reviewer,
        priority=Priority.P2,
        action_type=ActionType.DETECT,
        due_date=date(2025, 12, 15),
        ticket_url="https://tickets.example.com/OPS-3",
    )
    report = services.coe_quality(coe)
    assert report.can_submit, [f.messages for f in report.failing_required]
    return coe


@pytest.fixture
def second_approver():
    return member(APPROVERS, "ada")


def _status(coe: CoeDocument) -> str:
    return CoeDocument.objects.get(pk=coe.pk).status


class TestWorkflow:
    def test_submit_is_refused_with_what_to_fix(self, client_for, reviewer, draft, incident):
        response = client_for(reviewer).post(coe_url(incident, "submit/"))
        assert response.status_code == 302
        assert _status(draft) == CoeStatus.DRAFT
        said = messages_of(response)
        assert said[0] == "Not submitted. Fix these first:"
        assert "L01 Required sections are filled in: Section 'Impact' is empty" in said
        assert "L01 Required sections are filled in: No whys chain: write one chain per root cause" in said
        assert any(m.startswith("L02 ") for m in said)
        # Only failing required rules are listed: advisory ones do not block.
        assert not any(m.startswith(("L13 ", "L14 ", "L15 ")) for m in said)
        # ...and the messages are on the page the user lands on.
        page = client_for(reviewer).get(response["Location"])
        assert "Section &#x27;Impact&#x27; is empty" in page.content.decode()

    def test_one_failing_rule_is_enough_to_refuse(self, client_for, reviewer, complete_coe):
        ActionItem.objects.filter(incident=complete_coe.incident).update(owner=None)
        response = client_for(reviewer).post(coe_url(complete_coe.incident, "submit/"))
        assert _status(complete_coe) == CoeStatus.DRAFT
        assert any(m.startswith("L07 ") and "has no owner" in m for m in messages_of(response))

    def test_complete_coe_can_be_submitted(self, client_for, reviewer, complete_coe):
        response = client_for(reviewer).post(coe_url(complete_coe.incident, "submit/"))
        assert response.status_code == 302
        complete_coe.refresh_from_db()
        assert complete_coe.status == CoeStatus.IN_REVIEW
        assert complete_coe.submitted_at == NOW
        assert complete_coe.revisions.first().note == "Submitted for review"
        assert "Submitted for review. An approver who is not an author must approve it." in messages_of(response)

    def test_an_author_cannot_approve_another_approver_can_and_then_publishes(
        self, client_for, reviewer, approver, second_approver, complete_coe
    ):
        incident = complete_coe.incident
        # arun edits the draft, so he is an author now.
        arun = client_for(approver)
        form = editor_form(arun, incident)
        form["lessons_went_well"] = "The restore was quick and rehearsed."
        assert arun.post(coe_url(incident), form).status_code == 302
        assert arun.post(coe_url(incident, "submit/")).status_code == 302
        assert _status(complete_coe) == CoeStatus.IN_REVIEW

        page = arun.get(coe_url(incident))
        assert b"An author cannot approve their own COE (two-person rule)." in page.content
        assert b"coe/approve/" not in page.content
        response = arun.post(coe_url(incident, "approve/"))
        assert response.status_code == 302
        assert "An author cannot approve their own COE (two-person rule)." in messages_of(response)
        complete_coe.refresh_from_db()
        assert (complete_coe.status, complete_coe.approver) == (CoeStatus.IN_REVIEW, None)

        ada = Client()
        ada.force_login(second_approver)
        assert b"coe/approve/" in ada.get(coe_url(incident)).content
        assert ada.post(coe_url(incident, "approve/")).status_code == 302
        complete_coe.refresh_from_db()
        assert (complete_coe.status, complete_coe.approver, complete_coe.approved_at) == (
            CoeStatus.APPROVED,
            second_approver,
            NOW,
        )
        # The author may not publish either; the approver may.
        arun.post(coe_url(incident, "publish/"))
        assert _status(complete_coe) == CoeStatus.APPROVED
        response = ada.post(coe_url(incident, "publish/"))
        assert "Published." in messages_of(response)
        complete_coe.refresh_from_db()
        assert (complete_coe.status, complete_coe.published_at) == (CoeStatus.PUBLISHED, NOW)
        assert [r.note for r in complete_coe.revisions.all()[:3]] == ["Published", "Approved", "Submitted for review"]

    def test_steps_out_of_order_are_refused_with_a_reason(self, client_for, approver, complete_coe):
        client = client_for(approver)
        incident = complete_coe.incident
        response = client.post(coe_url(incident, "approve/"))
        assert "Only a COE in review can be approved." in messages_of(response)
        response = client.post(coe_url(incident, "publish/"))
        assert "Only an approved COE can be published." in messages_of(response)
        response = client.post(coe_url(incident, "reopen/"), {"reason": "Why not"})
        assert "The COE is already a draft." in messages_of(response)
        assert _status(complete_coe) == CoeStatus.DRAFT

    def test_submitting_twice_is_refused(self, client_for, reviewer, complete_coe):
        client = client_for(reviewer)
        client.post(coe_url(complete_coe.incident, "submit/"))
        response = client.post(coe_url(complete_coe.incident, "submit/"))
        assert "Only a draft can be submitted for review." in messages_of(response)

    def test_reopen_needs_a_reason_and_an_approver_and_keeps_history(
        self, client_for, reviewer, approver, complete_coe
    ):
        incident = complete_coe.incident
        client_for(reviewer).post(coe_url(incident, "submit/"))
        client_for(approver).post(coe_url(incident, "approve/"))
        client_for(approver).post(coe_url(incident, "publish/"))
        assert _status(complete_coe) == CoeStatus.PUBLISHED
        revisions = CoeRevision.objects.count()

        assert client_for(reviewer).post(coe_url(incident, "reopen/"), {"reason": "Typo"}).status_code == 403
        response = client_for(approver).post(coe_url(incident, "reopen/"), {"reason": "   "})
        assert "Say why the COE is reopened or sent back." in messages_of(response)
        assert _status(complete_coe) == CoeStatus.PUBLISHED
        assert CoeRevision.objects.count() == revisions

        response = client_for(approver).post(coe_url(incident, "reopen/"), {"reason": "New data on the trigger"})
        assert "Back to draft. The history keeps every earlier version." in messages_of(response)
        complete_coe.refresh_from_db()
        assert complete_coe.status == CoeStatus.DRAFT
        assert (complete_coe.approver, complete_coe.approved_at, complete_coe.published_at) == (None, None, None)
        latest = complete_coe.revisions.first()
        assert latest.note == "Reopened from published: New data on the trigger"
        assert latest.saved_by == approver
        assert CoeRevision.objects.count() == revisions + 1
        # Every earlier revision is still there, and the history page shows who and why.
        page = client_for(reviewer).get(coe_url(incident, "history/")).content.decode()
        assert "Reopened from published: New data on the trigger" in page
        assert "Published" in page
        assert "Submitted for review" in page
        # And it can be edited again.
        client = client_for(reviewer)
        form = editor_form(client, incident)
        form["trigger"] = "An automated configuration push at 06:47 UTC."
        assert client.post(coe_url(incident), form).status_code == 302

    def test_send_back_from_review(self, client_for, reviewer, approver, complete_coe):
        incident = complete_coe.incident
        client_for(reviewer).post(coe_url(incident, "submit/"))
        client_for(approver).post(coe_url(incident, "reopen/"), {"reason": "Whys stop too early"})
        complete_coe.refresh_from_db()
        assert complete_coe.status == CoeStatus.DRAFT
        assert complete_coe.submitted_at is None
        assert complete_coe.revisions.first().note == "Reopened from in review: Whys stop too early"


class TestComments:
    def test_comment_and_reply(self, client_for, reviewer, approver, complete_coe):
        incident = complete_coe.incident
        client_for(reviewer).post(coe_url(incident, "submit/"))
        response = client_for(approver).post(
            coe_url(incident, "comments/"), {"section": "root_cause", "body": "Which dashboard shows this?"}
        )
        assert response.status_code == 302
        assert response["Location"] == coe_url(incident) + "#comments-root_cause"
        comment = ReviewComment.objects.get()
        assert (comment.section, comment.author, comment.reply_to) == ("root_cause", approver, None)

        # A reply is filed under its parent's section whatever the form says.
        client_for(reviewer).post(
            coe_url(incident, "comments/"),
            {"section": "summary", "body": "The error-rate graph in Metrics.", "reply_to": comment.pk},
        )
        reply = ReviewComment.objects.exclude(pk=comment.pk).get()
        assert (reply.reply_to, reply.section, reply.author) == (comment, "root_cause", reviewer)

        page = client_for(approver).get(coe_url(incident)).content.decode()
        section = page.split('id="section-root_cause"')[1].split("</section>")[0]
        assert "Which dashboard shows this?" in section
        assert "The error-rate graph in Metrics." in section

    def test_empty_comment_is_refused(self, client_for, approver, draft, incident):
        response = client_for(approver).post(coe_url(incident, "comments/"), {"section": "summary", "body": ""})
        assert "A comment needs a section and some text." in messages_of(response)
        assert not ReviewComment.objects.exists()

    def test_reply_to_a_comment_on_another_coe_is_404(self, client_for, approver, reviewer, draft, incident):
        other = services.coe_start(incident=IncidentFactory(), user=reviewer)
        foreign = ReviewComment.objects.create(coe=other, section="summary", author=reviewer, body="Elsewhere")
        response = client_for(approver).post(
            coe_url(incident, "comments/"), {"section": "summary", "body": "Hi", "reply_to": foreign.pk}
        )
        assert response.status_code == 404
        assert ReviewComment.objects.count() == 1


# --------------------------------------------------------------------------
# History and export
# --------------------------------------------------------------------------


class TestHistory:
    def test_lists_revisions_newest_first_and_preselects_the_last_two(self, client_for, leader, reviewer, draft):
        services.coe_save(coe=draft, user=reviewer, data={"summary": "Second"}, base_version=1)
        response = client_for(leader).get(coe_url(draft.incident, "history/"))
        content = response.content.decode()
        assert response.status_code == 200
        assert content.index("<td>r2</td>") < content.index("<td>r1</td>")
        assert "Started" in content
        assert '<input type="radio" name="from" value="1" aria-label="Compare from revision 1" checked>' in content
        assert '<input type="radio" name="to" value="2" aria-label="Compare to revision 2" checked>' in content

    def test_diff_between_two_revisions(self, client_for, leader, reviewer, draft):
        services.coe_save(
            coe=draft,
            user=reviewer,
            data={"summary": "Checkout requests failed.\n<b>for 5 hours</b>", "whys": COMPLETE_WHYS},
            base_version=1,
        )
        content = client_for(leader).get(coe_url(draft.incident, "history/"), {"from": 1, "to": 2}).content.decode()
        assert "Changes from r1 to r2" in content
        diff = content.split('id="h-diff"')[1]
        assert "<h3>Summary</h3>" in diff
        assert '<tr class="diff-ins"><th scope="row">r2</th><td>&lt;b&gt;for 5 hours&lt;/b&gt;</td></tr>' in diff
        assert '<tr class="diff-same"><th scope="row"></th><td>Checkout requests failed.</td></tr>' in diff
        assert "<b>for 5 hours</b>" not in diff
        assert "<h3>Whys</h3>" in diff
        assert "Cause: The checkout DNS record was empty" in diff
        assert "<h3>Impact</h3>" not in diff  # unchanged sections are left out

    def test_same_revision_twice_says_so(self, client_for, leader, draft):
        content = client_for(leader).get(coe_url(draft.incident, "history/"), {"from": 1, "to": 1}).content
        assert b"The two revisions have the same text." in content

    def test_unknown_revision_is_reported(self, client_for, leader, draft):
        content = client_for(leader).get(coe_url(draft.incident, "history/"), {"from": 1, "to": 99}).content
        assert b"Pick two revisions from the list." in content

    def test_no_coe_is_404(self, client_for, leader, incident):
        assert client_for(leader).get(coe_url(incident, "history/")).status_code == 404
        assert client_for(leader).get(coe_url(incident, "export.md")).status_code == 404


class TestExport:
    def test_markdown_download(self, client_for, leader, complete_coe):
        incident = complete_coe.incident
        response = client_for(leader).get(coe_url(incident, "export.md"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/markdown; charset=utf-8"
        assert response["Content-Disposition"] == f'attachment; filename="{incident.key}-COE.md"'
        text = response.content.decode()
        assert text.startswith("# COE: Checkout DNS outage\n")
        assert f"- Incident: {incident.key} (SEV2, Resolved)" in text
        assert "- Owner: rita" in text
        assert "- Approver: not yet approved" in text
        assert "## Summary\n\n" + COMPLETE_SECTIONS["summary"] in text
        assert "## Related items\n\nhttps://tickets.example.com/OPS-1" in text
        # Sections keep the editor's order, and the whys follow the root cause.
        assert text.index("## Summary") < text.index("## Root cause") < text.index("## Five whys")
        assert text.index("## Five whys") < text.index("## Resolution")
        assert "### The checkout DNS record was empty" in text
        assert "1. The automation applied an empty plan\n2. Nothing compared the plan with the live record\n3. " in text
        assert "| Action | Basis | Type | Priority | Owner | Due | Status | Ticket |" in text
        assert (
            "| Reject empty DNS plans in the pipeline | Reported | Prevent | P1 | rita | 2025-11-30 | Open "
            "| https://tickets.example.com/OPS-2 |"
        ) in text

    def test_empty_sections_say_so(self, client_for, leader, draft):
        text = client_for(leader).get(coe_url(draft.incident, "export.md")).content.decode()
        assert "## Impact\n\n_Not written._" in text
        assert "_No whys chains._" in text


# --------------------------------------------------------------------------
# Safe Markdown
# --------------------------------------------------------------------------

HOSTILE = (
    "<script>alert(1)</script> **bold** [x](javascript:alert(1)) "
    '<img src=x onerror="alert(2)"> [y](JaVaScRiPt:alert(3)) ![z](javascript:alert(4))'
)


def assert_nothing_runs(html: str) -> None:
    """No user-written script, event handler or javascript: URL made it into real markup."""
    assert not re.search(r"<script>\s*alert", html)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE)
    assert not re.search(r"(?:href|src)=\"\s*javascript:", html, re.IGNORECASE)


class TestSafeMarkdown:
    def test_the_check_catches_unsanitized_html(self):
        from markdown_it import MarkdownIt

        with pytest.raises(AssertionError):
            assert_nothing_runs(MarkdownIt("commonmark", {"html": True}).render(HOSTILE))

    def test_document_view(self, client_for, leader, reviewer, draft):
        services.coe_save(
            coe=draft,
            user=reviewer,
            data={"root_cause": HOSTILE, "whys": [{"cause": "<script>alert(5)</script>", "links": ["<b>x</b>"]}]},
            base_version=1,
        )
        ReviewComment.objects.create(coe=draft, section="root_cause", author=reviewer, body=HOSTILE)
        response = client_for(leader).get(coe_url(draft.incident))
        content = response.content.decode()
        assert_nothing_runs(content)
        assert "<strong>bold</strong>" in content
        # What was typed is still shown, as text.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
        assert "&lt;script&gt;alert(5)&lt;/script&gt;" in content
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]

    def test_editor_escapes_the_text_and_sanitizes_the_preview(self, client_for, reviewer, draft):
        services.coe_save(coe=draft, user=reviewer, data={"root_cause": HOSTILE}, base_version=1)
        response = client_for(reviewer).get(coe_url(draft.incident))
        content = response.content.decode()
        assert_nothing_runs(content)
        # The text round-trips through the textarea unchanged.
        assert read_form(content, id="coe-form")["root_cause"] == HOSTILE
        assert "Content-Security-Policy" in response

    def test_preview(self, client_for, reviewer, draft):
        response = client_for(reviewer).post(
            coe_url(draft.incident, "preview/"), {"section": "impact", "impact": HOSTILE}, **HTMX
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert_nothing_runs(html)
        assert "<strong>bold</strong>" in html
        assert "<html" not in html

    def test_preview_of_links_and_tables(self, client_for, reviewer, draft):
        text = "[graph](https://dash.example.com/x)\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        html = (
            client_for(reviewer)
            .post(coe_url(draft.incident, "preview/"), {"section": "metrics", "metrics": text})
            .content.decode()
        )
        assert 'href="https://dash.example.com/x"' in html
        assert 'rel="noopener noreferrer nofollow"' in html
        assert "<table>" in html

    def test_preview_of_an_unknown_section_renders_nothing(self, client_for, reviewer, draft):
        html = (
            client_for(reviewer)
            .post(coe_url(draft.incident, "preview/"), {"section": "owner", "owner": "**x**"})
            .content.decode()
        )
        assert html == '<p class="muted">Nothing to preview yet.</p>'


# --------------------------------------------------------------------------
# Query budgets
# --------------------------------------------------------------------------


def _add_rows(incident: Incident, coe: CoeDocument, author) -> None:
    """One more action item (with its owner) and one more comment thread with a reply."""
    ActionItemFactory(incident=incident, owner=UserFactory())
    comment = ReviewComment.objects.create(coe=coe, section="summary", author=UserFactory(), body="Why?")
    ReviewComment.objects.create(coe=coe, section="summary", author=UserFactory(), body="Because.", reply_to=comment)


class TestQueryCounts:
    def test_editor_does_not_grow_with_items_or_comments(self, client_for, reviewer, draft, django_assert_num_queries):
        incident = draft.incident
        client = client_for(reviewer)
        _add_rows(incident, draft, reviewer)
        # 1 session, 2 user, 3 incident (visibility is a subquery), 4 COE (+owner, approver),
        # 5-6 the user's and groups' permissions; for the quality check and the page:
        # 7 action items (+owner), 8 timeline, 9 AI involvements, 10 authors; 11 comments
        # (+author), 12 their replies (+author); the formset: 13 its action items,
        # 14 the users offered as owners (once, whatever the number of rows)
        with django_assert_num_queries(14):
            client.get(coe_url(incident))
        for _ in range(3):
            _add_rows(incident, draft, reviewer)
        with django_assert_num_queries(14):
            client.get(coe_url(incident))

    def test_document_does_not_grow_with_items_or_comments(self, client_for, leader, draft, django_assert_num_queries):
        incident = draft.incident
        client = client_for(leader)
        _add_rows(incident, draft, leader)
        # 1 session, 2 user, 3 incident, 4 COE (+owner, approver), 5-6 the user's and groups'
        # permissions; 7 action items (+owner; the quality check and the table share them),
        # 8 timeline, 9 AI involvements, 10 authors; 11 comments (+author), 12 their replies
        # (+author). (An approver adds one: is the user an author, for the Approve button.)
        with django_assert_num_queries(12):
            client.get(coe_url(incident))
        for _ in range(3):
            _add_rows(incident, draft, leader)
        with django_assert_num_queries(12):
            client.get(coe_url(incident))
