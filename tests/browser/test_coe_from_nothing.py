"""An incident recorded from nothing in the pages, its COE reviewed and published, every change on the record.

A reviewer with no admin rights (the reviewers group and the incident's team, nothing more) records
an incident on the new-incident page: its title and severity, its four times each at its precision
(the detection to the hour and estimated), then on its timeline page two events beyond those four.
On the incident's page she adds two sources, a vendor's and a press report's claims that dispute the
cause, the adopted cause with its rationale, an AI involvement record citing a source, and an impact
figure. She writes the COE in the editor (every section, the whys, two action items with owners and
due dates), records its operational review on the incident's page, and submits it once the quality
check passes every rule it can before approval.

The approver of the incident's team (and no other approver) is mailed the submission; he opens his
"waiting for my review" page, comments on a section; she resolves the comment; he approves and
publishes, and the published COE passes every quality rule, L15 included.

The incident's History section and GET /api/v1/incidents/{key}/history/ then list the same changes,
each with its author: hers for the incident and its evidence, his for the comment, the approval and
the publication. Screenshots of each milestone go to test-artifacts/coe-from-nothing-*.png.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.models import ApiToken, CoeDocument, Incident
from incidents.models.vocab import TriState
from incidents.quality import RULES
from tests.factories import TeamFactory, UserFactory

from .pages import AUTOSAVE_PROBE, open_form, unexpected_errors, wait_for_autosave

pytestmark = pytest.mark.browser

# Recent days, so that the COE is drafted within its target after the resolution (rule L12).
DAY = timezone.now().date() - timedelta(days=4)
NEXT_DAY = DAY + timedelta(days=1)
DUE = (DAY + timedelta(days=60)).isoformat()

TITLE = "Cost reports unavailable after an agent recreated their environment"
VENDOR_URL = "https://vendor.example.com/statements/cost-reports-event"
PRESS_URL = "https://press.example.com/2026/agent-deleted-cost-reports"
# As the pages name a source: "publisher: title".
VENDOR_SOURCE = "Example Cloud: About the cost reports event"
PRESS_SOURCE = "Daily Tech: An AI agent deleted the cost reports environment"
RATIONALE = "Both accounts agree the agent acted with the operator's production write access and no second approval."

# Events beyond the incident's four times: an engagement (a moment rule L03 asks for) and the
# agent's action, known only to the hour and estimated, as the press report gives it.
EVENTS = [
    (f"{DAY} 10:25", "minute", False, "engagement", "human", "The on-call engineer joins the incident call.", ""),
    (f"{DAY} 09:05", "hour", True, "agent_action", "ai_agent", "The agent deletes the environment.", PRESS_SOURCE),
]

SECTIONS = {
    "summary": f"On {DAY} an AI coding agent deleted and recreated the cost reports environment in production. "
    "Cost reports were unavailable for 4 hours 28 minutes.",
    "impact": "About 3,200 customers could not open their cost reports (18% of daily readers); "
    "no billing data was lost.",
    "background": "Cost reports read from a reporting environment that an automation role can change. "
    "The coding agent runs with the role of the engineer who starts it.",
    "timeline_narrative": f"- {DAY} 09:05 UTC (estimated): the agent deletes the environment.\n"
    f"- {DAY} 09:14 UTC: cost reports start failing.\n"
    f"- {DAY} 10:25 UTC: the on-call engineer joins.\n"
    f"- {DAY} 13:42 UTC: the environment is restored from its template.",
    "metrics": "The [availability graph](https://dashboards.example.com/cost-reports) shows successful "
    "report loads falling from 99.9% to 0% at 09:14 UTC.",
    "trigger": "The agent chose to delete and recreate the environment to clear a configuration drift.",
    "root_cause": "The agent's session inherited the starting engineer's production write permissions, and "
    "destructive actions on the reporting environment needed no second approval.",
    "resolution": "The environment was recreated from its template and its data restored from the nightly copy.",
    "detection": "The availability alarm paged the on-call engineer; the start of detection is an estimate "
    "to the hour.",
    "q_detection": "An alarm on environment deletion would have paged within 1 minute.",
    "q_diagnosis": "The agent's action log named the deletion at once.",
    "q_mitigation": "A restore runbook for the reporting environment now exists.",
    "q_prevention": "A gate that asks a second person before an agent deletes a production environment.",
    "pillar_implications": "Security: agents get their own narrow role. Reliability: deletion needs a gate.",
    "lessons_went_well": "The nightly copy held every report; the restore lost no data.",
    "lessons_went_wrong": "The agent's session held permissions nobody had reviewed for it.",
    "lessons_lucky": "The deletion happened before the month-end reporting peak.",
    "related_items": "Ticket https://tickets.example.com/OPS-310.",
}
WHYS_CAUSE = "The agent deleted the production reporting environment"
WHYS_LINKS = [
    "Cost reports failed because their environment had been deleted.",
    "The agent could delete it because its session inherited production write permissions.",
    "The permission model gives an agent its starter's role, with no gate on destructive actions.",
]
ACTION_ITEMS = [
    ("Require a second approval before an agent deletes a production environment", "prevent", "P0", "rita"),
    ("Alarm when a reporting environment is deleted", "detect", "P1", "arun"),
]
COMMENT = "Does the 18% count the readers who retried later that day?"


@pytest.fixture
def team(reviewer, approver):
    """The team that runs cost reports: the reviewer and the approver are its members."""
    team = TeamFactory(name="Cost reports", slug="cost-reports")
    team.members.add(reviewer, approver)
    return team


@pytest.fixture
def other_approver(roles):
    """An approver outside the team: the submission is not his to hear of."""
    from django.contrib.auth.models import Group

    from incidents.roles import APPROVERS

    user = UserFactory(username="otto")
    user.groups.add(Group.objects.get(name=APPROVERS))
    return user


def shot(page: Page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"coe-from-nothing-{name}.png"), full_page=True)


def record_incident(page: Page) -> str:
    page.goto("/incidents/new/")
    page.get_by_role("textbox", name="Title", exact=True).fill(TITLE)
    page.get_by_role("textbox", name="Summary", exact=True).fill(SECTIONS["summary"])
    page.get_by_role("combobox", name="Severity", exact=True).select_option("SEV1")
    page.get_by_role("combobox", name="Status", exact=True).select_option("resolved")
    page.get_by_role("combobox", name="Owner", exact=True).select_option(label="rita")
    page.get_by_label("Time zone of the times below").select_option("UTC")
    page.get_by_label("Impact started").fill(f"{DAY} 09:14")
    page.get_by_label("Start known").select_option("minute")
    page.get_by_label("Detected", exact=True).fill(f"{DAY} 10:00")
    page.get_by_label("Detection known").select_option("hour")
    page.get_by_label("The detection is an estimate").check()
    page.get_by_label("Mitigated", exact=True).fill(f"{DAY} 13:42")
    page.get_by_label("Resolved", exact=True).fill(str(NEXT_DAY))
    page.get_by_label("Resolution known").select_option("day")
    page.get_by_label("Services", exact=True).fill("cost-reports")
    page.locator("#id_customer_impact").fill(SECTIONS["impact"])
    page.locator("#id_primary_cause").select_option("access_control")
    page.locator("#id_trigger_kind").select_option("agent_action")
    page.locator("#id_trigger_text").fill(SECTIONS["trigger"])
    page.get_by_role("button", name="Create incident").click()
    page.wait_for_url(re.compile(r"/incidents/INC-\d{4}-\d{4}/timeline/$"))
    return re.search(r"/incidents/(INC-\d{4}-\d{4})/timeline/", page.url).group(1)


def add_events(page: Page) -> None:
    panel = page.locator("#timeline-panel")
    # The incident's four times are its first four events, typed once.
    expect(panel.get_by_role("heading", name="Events (4)")).to_be_visible()
    for number, (when, precision, estimated, kind, actor, description, source) in enumerate(EVENTS, start=5):
        form = page.locator("#add-event")
        form.get_by_label("When").fill(when)
        form.get_by_role("combobox", name="Time zone", exact=True).select_option("UTC")
        form.get_by_role("combobox", name="Known", exact=True).select_option(precision)
        if estimated:
            form.get_by_label("The time is an estimate").check()
        form.get_by_role("combobox", name="Kind", exact=True).select_option(kind)
        form.get_by_role("combobox", name="Actor kind").select_option(actor)
        if source:
            form.get_by_role("combobox", name="Source").select_option(label=source)
        form.get_by_label("Description").fill(description)
        form.get_by_role("button", name="Add event").click()
        expect(panel.get_by_role("heading", name=f"Events ({number})")).to_be_visible()


def add_source(page: Page, url: str, publisher: str, title: str, kind: str, published: str) -> None:
    form = open_form(page, "sources", "Add a source")
    form.locator("#id_url").fill(url)
    form.locator("#id_title").fill(title)
    form.locator("#id_publisher").fill(publisher)
    form.locator("#id_kind").select_option(kind)
    form.locator("#id_published_on").fill(published)
    form.get_by_role("button", name="Add source").click()
    expect(page.locator("#evidence-sources").get_by_role("link", name=title, exact=True)).to_be_visible()


def add_claim(page: Page, source: str, claimant: str, stance: str, cause: str, ai_role: str, statement: str):
    form = open_form(page, "claims", "Add a claim")
    form.locator("#id_source").select_option(label=source)
    form.locator("#id_claimant").fill(claimant)
    form.locator("#id_stance").select_option(stance)
    form.locator("#id_claimed_cause").select_option(cause)
    form.locator("#id_claimed_ai_role").select_option(ai_role)
    form.locator("#id_statement").fill(statement)
    form.get_by_role("button", name="Add claim").click()
    expect(page.locator("#evidence-claims article.claim", has_text=claimant)).to_be_visible()


def record_evidence(page: Page, key: str) -> None:
    page.goto(f"/incidents/{key}/")
    add_source(page, VENDOR_URL, *VENDOR_SOURCE.split(": "), "vendor_primary", str(NEXT_DAY))
    add_source(page, PRESS_URL, *PRESS_SOURCE.split(": "), "press", str(NEXT_DAY))

    add_claim(
        page, PRESS_SOURCE, "Daily Tech", "asserts", "automation_defect", "executor", "The agent caused the outage."
    )
    add_claim(
        page,
        VENDOR_SOURCE,
        "Example Cloud",
        "denies",
        "access_control",
        "none",
        "A misconfigured role, not the agent, allowed the deletion.",
    )
    form = open_form(page, "claims", "Edit the attribution and adopted cause")
    form.locator("#id_attribution_status").select_option("disputed")
    form.locator("#id_adopted_cause").select_option("access_control")
    form.locator("#id_adopted_cause_rationale").fill(RATIONALE)
    form.get_by_role("button", name="Save attribution").click()
    expect(page.locator("#evidence-claims h2 .badge-disputed")).to_have_text("Disputed")

    form = open_form(page, "ai", "Add an AI involvement record")
    form.locator("#id_agent_name").fill("Builder Agent")
    form.locator("#id_vendor").fill("Example Cloud")
    form.locator("#id_role").select_option("executor")
    form.locator("#id_autonomy_level").select_option("L4")
    form.locator("#id_gate_present").select_option("no")
    form.locator("#id_permissions_held").select_option("write_prod")
    form.locator("#id_permissions_inherited").select_option("yes")
    form.locator("#id_cite_permissions_inherited").select_option(label=PRESS_SOURCE)
    form.locator("#id_action_class").select_option("delete_recreate")
    form.get_by_role("button", name="Add AI involvement").click()
    ai = page.locator("#evidence-ai")
    expect(ai.get_by_role("heading", name="Builder Agent")).to_be_visible()
    expect(ai.get_by_role("link", name="[Daily Tech]")).to_be_visible()

    form = open_form(page, "impact", "Add an impact figure")
    form.locator("#id_name").fill("Customers without cost reports")
    form.locator("#id_value").fill("3200")
    form.locator("#id_unit").fill("customers")
    form.locator("#id_is_estimate").check()
    form.get_by_role("button", name="Add figure").click()
    expect(page.locator("#evidence-impact td.num")).to_have_text("~3200 customers")


def write_coe(page: Page, key: str) -> None:
    page.add_init_script(AUTOSAVE_PROBE)
    page.goto(f"/incidents/{key}/")
    page.get_by_role("link", name="Start the COE").click()
    page.get_by_role("button", name="Start the COE").click()
    expect(page.locator("#save-status")).to_contain_text("Version 1.")
    for section, text in SECTIONS.items():
        page.locator(f"#id_{section}").fill(text)
    page.get_by_label("Cause 1").fill(WHYS_CAUSE)
    for number, link in enumerate(WHYS_LINKS, start=1):
        page.get_by_label(f"Why {number}", exact=True).fill(link)
    for number, (title, action_type, priority, owner) in enumerate(ACTION_ITEMS):
        if number:
            wait_for_autosave(page)
            page.get_by_role("button", name="Save and add another action item").click()
            expect(page.locator(f"#id_items-{number}-title")).to_have_value("")
        prefix = f"#id_items-{number}-"
        page.locator(prefix + "title").fill(title)
        page.locator(prefix + "action_type").select_option(action_type)
        page.locator(prefix + "priority").select_option(priority)
        page.locator(prefix + "owner").select_option(label=owner)
        page.locator(prefix + "due_date").fill(DUE)
        page.locator(prefix + "ticket_url").fill(f"https://tickets.example.com/OPS-31{number + 1}")
    wait_for_autosave(page)
    page.locator(".sticky-bar").get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved (version")


def record_ops_review(page: Page, key: str) -> None:
    page.goto(f"/incidents/{key}/")
    form = open_form(page, "ops_review", "Record the operational review")
    form.get_by_label("Reviewed in an operational meeting").check()
    form.locator("#id_ops_review_on").fill(str(NEXT_DAY))
    form.locator("#id_ops_review_meeting").fill("Weekly operations review")
    form.get_by_role("button", name="Save operational review").click()
    expect(page.locator("#evidence-ops_review")).to_contain_text(f"Reviewed in Weekly operations review on {NEXT_DAY}")


def rules_by_state(page: Page) -> dict[str, list[str]]:
    quality = page.locator("#quality")
    return {
        state: [text.split()[0] for text in quality.locator(f"ul.checklist > li.{state} strong").all_inner_texts()]
        for state in ("pass", "fail")
    }


def history_on_the_page(page: Page, key: str, screenshot: Path) -> list[tuple[str, str]]:
    """(who, what) of every row of the incident's History section, newest first, page after page;
    a screenshot of its first page (the newest changes)."""
    page.goto(f"/incidents/{key}/")
    page.locator("#history").scroll_into_view_if_needed()
    rows: list[tuple[str, str]] = []
    while True:
        panel = page.locator("#history-panel")
        expect(panel.locator("tbody tr").first).to_be_visible()
        if not rows:
            page.locator("#history").screenshot(path=str(screenshot))
        for row in panel.locator("tbody tr").all():
            cells = row.locator("td")
            rows.append((cells.nth(1).inner_text().strip(), cells.nth(2).inner_text().split(":")[0].strip()))
        older = panel.get_by_role("link", name="Older changes")
        if not older.count():
            return rows
        shown = panel.locator(".pagination .muted").inner_text()
        older.click()
        expect(page.locator("#history-panel .pagination .muted")).not_to_have_text(shown)


def what(change: dict) -> str:
    """A change as the page's Record column heads it: "Source created", "COE document"."""
    suffix = {"create": " created", "delete": " deleted"}.get(change["action"], "")
    return change["record_type"][0].upper() + change["record_type"][1:] + suffix


def history_over_the_api(signed_out: Page, user, key: str) -> list[dict]:
    """Every change over HTTP to the live server, with the user's API token and no session."""
    _, plain = ApiToken.issue(user=user, name="history reader")
    changes, url = [], f"/api/v1/incidents/{key}/history/?page_size=200"
    while url:
        response = signed_out.request.get(url, headers={"Authorization": f"Bearer {plain}"})
        assert response.status == 200, response.text()
        changes += response.json()["results"]
        url = response.json()["next"]
    return changes


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_records_an_incident_from_nothing_and_an_approver_publishes_its_coe(
    page, new_page, login, reviewer, approver, other_approver, team, artifacts, notices_delivered
):
    assert not reviewer.is_staff
    assert not reviewer.is_superuser
    login(page, reviewer.username)
    key = record_incident(page)
    # The team runs the service; teams are assigned in the admin, the incident form has no field for it.
    Incident.objects.filter(key=key).update(team=team)
    record_evidence(page, key)
    # The timeline's events beyond the four times, one citing a source recorded above.
    page.goto(f"/incidents/{key}/timeline/")
    add_events(page)
    shot(page, artifacts, "1-timeline")

    page.goto(f"/incidents/{key}/")
    expect(page.get_by_test_id("time-started")).to_have_text(f"{DAY} 09:14 UTC")
    expect(page.get_by_test_id("time-detected")).to_contain_text("estimated")
    expect(page.get_by_test_id("time-resolved").locator("time")).to_have_text(str(NEXT_DAY))
    shot(page, artifacts, "2-evidence")

    write_coe(page, key)
    record_ops_review(page, key)
    page.get_by_role("link", name="Open the COE").click()
    # Every rule passes but L15, which waits for a second person's approval and nothing else.
    assert rules_by_state(page) == {"pass": [r.id for r in RULES if r.id != "L15"], "fail": ["L15"]}
    expect(page.locator("#quality li.fail")).to_contain_text("Not yet approved by a second person")
    expect(page.locator("#quality li.fail")).not_to_contain_text("operational meeting")
    shot(page, artifacts, "3-coe-written")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".page-head .badge")).to_have_text("In review")

    # The team's approver is mailed the submission, with the address of the COE; no other approver is.
    (submitted,) = mail.outbox
    assert submitted.to == [approver.email]
    assert submitted.subject == f"{key}: rita submitted the COE for review"
    assert f"/incidents/{key}/coe/" in submitted.body

    approver_page = new_page()
    login(approver_page, approver.username)
    approver_page.get_by_role("navigation", name="Main").get_by_role("link", name="Waiting for my review 1").click()
    queued = approver_page.locator("#review-queue tbody tr")
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("Your team")
    shot(approver_page, artifacts, "4-review-queue")
    queued.get_by_role("link", name=key).click()
    impact = approver_page.locator("#section-impact")
    impact.get_by_text("Comment on this section").click()
    impact.get_by_label("Comment").fill(COMMENT)
    impact.get_by_role("button", name="Add comment").click()
    expect(approver_page.locator("#open-comments")).to_contain_text(COMMENT)

    # The author resolves it in place.
    page.reload()
    page.locator("#comments-impact").get_by_role("button", name="Resolve the comment by arun").click()
    expect(page.locator("#comments-impact .comment.is-resolved")).to_contain_text("by rita")
    shot(page, artifacts, "5-comment-resolved")

    approver_page.reload()
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.locator(".messages")).to_contain_text("Approved")
    approver_page.get_by_role("button", name="Publish").click()
    expect(approver_page.locator(".page-head .badge")).to_have_text("Published")
    # The published COE passes every quality rule, L15 included.
    assert rules_by_state(approver_page) == {"pass": [r.id for r in RULES], "fail": []}
    expect(approver_page.locator("#quality .score")).to_contain_text("100/100")
    shot(approver_page, artifacts, "6-published")

    coe = CoeDocument.objects.get(incident__key=key)
    assert (coe.status, coe.approver, coe.reviewed_in_ops_meeting) == ("published", approver, True)
    incident = coe.incident
    assert (incident.detected_precision, incident.detected_estimated) == ("hour", True)
    assert incident.timeline.count() == 6
    assert set(incident.sources.values_list("url", flat=True)) == {VENDOR_URL, PRESS_URL}
    involvement = incident.ai_involvements.get()
    assert involvement.permissions_inherited == TriState.YES
    assert list(involvement.citations.values_list("field", "source__url")) == [("permissions_inherited", PRESS_URL)]
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (approver.email, f"{key}: rita submitted the COE for review"),
        (reviewer.email, f"{key}: arun approved the COE"),
        (reviewer.email, f"{key}: arun commented on the COE (Impact)"),
        (reviewer.email, f"{key}: arun published the COE"),
    ]

    # Every change of the run is on the record with its author, on the page and over the API alike.
    on_the_page = history_on_the_page(page, key, artifacts / "coe-from-nothing-7-history.png")
    over_the_api = history_over_the_api(new_page(), reviewer, key)
    assert on_the_page == [(change["actor"], what(change)) for change in over_the_api]
    # The run ends with the publication: nothing in it came after, the publication itself included.
    assert not any(change["after_publication"] for change in over_the_api)
    authors: dict[str, set[str]] = {}
    for change in over_the_api:
        authors.setdefault(what(change), set()).add(change["actor"])
    assert authors == {
        "Incident created": {"rita"},
        "Incident": {"rita"},
        "Timeline event created": {"rita"},
        "Source created": {"rita"},
        "Claim created": {"rita"},
        "AI involvement created": {"rita"},
        "AI field citation created": {"rita"},
        "Impact figure created": {"rita"},
        "COE document created": {"rita"},
        "Action item created": {"rita"},
        "COE document": {"rita", "arun"},
        "Review comment created": {"arun"},
        "Review comment": {"rita"},
    }, authors
    # One entry for each record the run created: the four times' events and the two added, and so on.
    created = Counter(change["record_type"] for change in over_the_api if change["action"] == "create")
    assert created == {
        "incident": 1,
        "timeline event": 6,
        "source": 2,
        "claim": 2,
        "AI involvement": 1,
        "AI field citation": 1,
        "impact figure": 1,
        "COE document": 1,
        "action item": 2,
        "review comment": 1,
    }, created
    changed = {
        (change["record_type"], field["field"]): change["actor"]
        for change in over_the_api
        if change["action"] == "update"
        for field in change["changes"]
    }
    assert changed["incident", "adopted_cause_rationale"] == "rita"
    assert changed["COE document", "reviewed_in_ops_meeting"] == "rita"
    assert changed["review comment", "resolved_by"] == "rita"
    assert changed["COE document", "published_at"] == "arun"
    statuses = [
        (change["actor"], field["after"])
        for change in reversed(over_the_api)
        if change["record_type"] == "COE document" and change["action"] == "update"
        for field in change["changes"]
        if field["field"] == "status"
    ]
    assert statuses == [("rita", "in_review"), ("arun", "approved"), ("arun", "published")], statuses
    for each in (page, approver_page):
        assert unexpected_errors(each) == []
