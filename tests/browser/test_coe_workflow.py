"""The whole COE story in a real browser, as its three kinds of user live it.

A reviewer records an incident and its timeline, writes the COE (with live
Markdown preview, autosave, whys and action items) and submits it; an
approver comments, the reviewer answers and resolves the comment, the approver
approves and publishes, each step mailed to the people concerned; a leader
reads the published COE. No console errors (CSP violations included) anywhere
along the way.
"""

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import CoeDocument, Incident
from tests.browser.pages import AUTOSAVE_PROBE, assert_no_console_errors, wait_for_autosave
from tests.browser.test_accessibility import axe_violations, describe
from tests.factories import IncidentFactory

pytestmark = pytest.mark.browser

ZONE = "America/Los_Angeles"

INCIDENT = {
    "title": "Checkout API errors after a load-balancer pool push",
    "summary": "A configuration push left the checkout load balancer with one healthy host.",
    "customer_impact": "About 12,400 checkout requests failed (8% of checkout traffic).",
    "trigger_text": "A pool configuration meant for a test environment was pushed to production.",
}

# The incident's four times are timeline events already (the services keep them as one); these add
# what happened between them, entered out of order on purpose: the table must still list them by time.
EVENTS = [
    ("2025-10-20T07:25", "cause_identified", "human", "The pool configuration is found to list one host."),
    ("2025-10-20T07:10", "engagement", "human", "The on-call engineer joins and starts investigating."),
    ("2025-10-20T07:05", "communication", "human", "The status page says checkout fails for some customers."),
]
OWN_EVENTS = 4  # start, detection, mitigation, resolution: the incident form's four times

# Every section of the COE, written blamelessly and concretely (rules L01, L02, L05).
SECTIONS = {
    "summary": "On 2025-10-20 a configuration push shrank the checkout load-balancer pool to **one host**. "
    "Checkout requests failed for 52 minutes until the previous configuration was restored.",
    "impact": "About 12,400 checkout requests failed (8% of checkout traffic) from 06:48 to 07:40 PDT "
    "on 2025-10-20. An estimated 3,100 customers saw an error page; no order was charged twice.",
    "background": "The checkout service sits behind a load balancer (LB). The LB target pool lists the hosts "
    "that receive traffic; pool changes ship as configuration through the deploy pipeline.",
    "timeline_narrative": "- 06:48 PDT: the pool push reaches production; errors begin.\n"
    "- 07:02 PDT: the error-rate alarm pages the on-call engineer.\n"
    "- 07:40 PDT: the previous configuration is restored; errors stop.\n"
    "- 08:15 PDT: all 24 hosts are verified healthy; the incident is resolved.",
    "metrics": "The [error-rate dashboard](https://dashboards.example.com/checkout-errors) shows 5xx responses "
    "rising from 0.1% to 8% at 06:48 PDT and healthy hosts falling from 24 to 1.",
    "trigger": "A configuration push at 06:48 PDT replaced the production target pool with a one-entry list "
    "meant for a test environment.",
    "root_cause": "The deploy pipeline applies load-balancer pool changes without comparing them with the "
    "current pool, so a change that removes 23 of 24 hosts passes every check. One host reached its "
    "connection limit within seconds.",
    "resolution": "Rolling back to the previous pool configuration at 07:40 PDT restored all 24 hosts. "
    "The pool was verified healthy at 08:15 PDT.",
    "detection": "The checkout error-rate alarm fired 14 minutes after the start: it waits for 10 minutes of "
    "errors above 5%.",
    "q_detection": "An alarm on the pool's healthy-host count would have fired within 1 minute.",
    "q_diagnosis": "Showing recent configuration pushes on the checkout dashboard links errors to a push at once.",
    "q_mitigation": "The runbook now has a one-command rollback for pool configuration.",
    "q_prevention": "A pipeline validation step that blocks pool changes removing more than half of the hosts.",
    "pillar_implications": "Reliability: configuration needs the same safety checks as code. Cost and security: "
    "no change.",
    "lessons_went_well": "The rollback took under 5 minutes once the push was identified.",
    "lessons_went_wrong": "The pipeline accepted a pool change that removed 23 of 24 hosts, and the alarm "
    "threshold added 10 minutes to detection.",
    "lessons_lucky": "The push landed at a low-traffic hour.",
    "related_items": "Ticket https://tickets.example.com/OPS-100; a similar earlier incident: INC-2024-0042.",
}

WHYS_CAUSE = "The load-balancer pool shrank to one host"
WHYS_LINKS = [
    "Checkout requests failed because every request went to one host, which ran out of connections.",
    "Only one host was left because the push replaced the pool list with a one-entry test list.",
    "The deploy pipeline has no validation step that compares a new pool with the current one.",
]

DUE = (date.today() + timedelta(days=45)).isoformat()
ACTION_ITEMS = [
    {
        "title": "Add a pool-size validation step to the configuration deploy pipeline",
        "ticket_url": "https://tickets.example.com/OPS-101",
        "answers_why": "Why 3: the pipeline has no pool validation",
    },
    {
        "title": "Alarm when the checkout pool has fewer than half of its hosts healthy",
        "ticket_url": "https://tickets.example.com/OPS-102",
        "answers_why": "Why 2: a one-entry list replaced the pool",
    },
]


def create_incident(page: Page) -> str:
    page.goto("/incidents/")
    page.get_by_role("link", name="New incident").click()
    expect(page.get_by_role("heading", name="New incident")).to_be_visible()
    page.get_by_role("textbox", name="Title", exact=True).fill(INCIDENT["title"])
    page.get_by_role("textbox", name="Summary", exact=True).fill(INCIDENT["summary"])
    page.get_by_role("combobox", name="Severity", exact=True).select_option("SEV2")
    page.get_by_role("combobox", name="Status", exact=True).select_option("resolved")
    page.get_by_role("combobox", name="Owner", exact=True).select_option(label="rita")
    page.get_by_role("combobox", name="Time zone of the times below").select_option(ZONE)
    page.get_by_label("Impact started").fill("2025-10-20T06:48")
    page.get_by_label("Detected", exact=True).fill("2025-10-20T07:02")
    page.get_by_label("Mitigated", exact=True).fill("2025-10-20T07:40")
    page.get_by_label("Resolved", exact=True).fill("2025-10-20T08:15")
    page.get_by_label("Services", exact=True).fill("checkout-api")
    page.get_by_label("Regions", exact=True).fill("us-west-2")
    page.get_by_label("Tags", exact=True).fill("config, load-balancer")
    page.locator("#id_customer_impact").fill(INCIDENT["customer_impact"])
    page.locator("#id_primary_cause").select_option("change_config")
    page.locator("#id_trigger_kind").select_option("config_push")
    page.locator("#id_trigger_text").fill(INCIDENT["trigger_text"])
    page.get_by_role("button", name="Create incident").click()

    page.wait_for_url(re.compile(r"/incidents/INC-2025-\d{4}/timeline/$"))
    key = re.search(r"/incidents/(INC-2025-\d{4})/timeline/", page.url).group(1)
    expect(page.locator(".messages")).to_contain_text(f"{key} created")
    incident = Incident.objects.get(key=key)
    assert incident.severity == "SEV2"
    assert incident.status == "resolved"
    # 06:48 in Los Angeles (PDT, UTC-7) is 13:48 UTC.
    assert incident.started_at.isoformat() == "2025-10-20T13:48:00+00:00"
    return key


def add_timeline_events(page: Page) -> None:
    page.evaluate("window.__sameDocument = true")
    panel = page.locator("#timeline-panel")
    expect(panel.get_by_role("heading", name=f"Events ({OWN_EVENTS})")).to_be_visible()
    for number, (when, kind, actor, description) in enumerate(EVENTS, start=OWN_EVENTS + 1):
        form = page.locator("#add-event")
        form.get_by_label("When").fill(when)
        form.get_by_role("combobox", name="Time zone", exact=True).select_option(ZONE)
        form.get_by_role("combobox", name="Kind", exact=True).select_option(kind)
        form.get_by_role("combobox", name="Actor kind").select_option(actor)
        form.get_by_label("Description").fill(description)
        form.get_by_role("button", name="Add event").click()
        expect(panel.get_by_role("heading", name=f"Events ({number})")).to_be_visible()
        expect(panel.locator("tbody")).to_contain_text(description)
        # htmx swapped the panel: still the same document, nothing reloaded.
        assert page.evaluate("window.__sameDocument") is True

    rows = panel.locator("tbody tr")
    expect(rows).to_have_count(OWN_EVENTS + len(EVENTS))
    for when, _kind, _actor, description in EVENTS:
        row = rows.filter(has_text=description)
        expect(row.locator("time")).to_have_text(f"{when.replace('T', ' ')} PDT")
    stamps = rows.locator("time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert stamps == sorted(stamps), stamps
    # The add form is fresh again after the last event.
    expect(page.locator("#add-event").get_by_label("Description")).to_have_value("")


def fill_action_item(page: Page, number: int, item: dict) -> None:
    prefix = f"#id_items-{number}-"
    page.locator(prefix + "title").fill(item["title"])
    page.locator(prefix + "action_type").select_option("prevent")
    page.locator(prefix + "priority").select_option("P1")
    page.locator(prefix + "owner").select_option(label="rita")
    page.locator(prefix + "due_date").fill(DUE)
    page.locator(prefix + "ticket_url").fill(item["ticket_url"])
    page.locator(prefix + "answers_why").fill(item["answers_why"])


def write_coe(page: Page, key: str, artifacts) -> None:
    page.add_init_script(AUTOSAVE_PROBE)
    page.goto(f"/incidents/{key}/")
    page.get_by_role("link", name="Start the COE").click()
    page.wait_for_url(f"**/incidents/{key}/coe/")
    page.get_by_role("button", name="Start the COE").click()
    expect(page.locator(".messages")).to_contain_text("COE started from the template")
    expect(page.locator("#save-status")).to_contain_text("Version 1.")
    # The COE starts from what the incident records.
    expect(page.locator("#id_summary")).to_have_value(INCIDENT["summary"])

    # Live preview: Markdown as the document will show it.
    summary = page.locator("#id_summary")
    summary.fill("")
    summary.press_sequentially("Checkout **failed** for _52 minutes_.")
    expect(page.locator("#preview-summary strong")).to_have_text("failed")
    expect(page.locator("#preview-summary em")).to_have_text("52 minutes")

    for section, text in SECTIONS.items():
        page.locator(f"#id_{section}").fill(text)
    expect(page.locator("#preview-summary strong")).to_have_text("one host")
    expect(page.locator("#preview-timeline_narrative li")).to_have_count(4)
    expect(page.locator("#preview-metrics a")).to_have_attribute(
        "href", "https://dashboards.example.com/checkout-errors"
    )

    # Whys: the template's chain has three links, ending on a system.
    page.get_by_label("Cause 1").fill(WHYS_CAUSE)
    for number, link in enumerate(WHYS_LINKS):
        page.get_by_label(f"Why {number + 1}", exact=True).fill(link)
    version = wait_for_autosave(page)
    assert version >= 2
    saved = CoeDocument.objects.get(incident__key=key)
    assert saved.version == version
    assert saved.summary == SECTIONS["summary"]
    assert saved.whys == [{"cause": WHYS_CAUSE, "links": WHYS_LINKS}]

    # Two action items: fill one, "Save and add another", fill the next, Save.
    fill_action_item(page, 0, ACTION_ITEMS[0])
    wait_for_autosave(page)
    page.get_by_role("button", name="Save and add another action item").click()
    expect(page.locator(".messages")).to_contain_text("Saved (version")
    expect(page.locator("#id_items-1-title")).to_have_value("")
    fill_action_item(page, 1, ACTION_ITEMS[1])
    wait_for_autosave(page)
    page.locator(".sticky-bar").get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved (version")

    # Everything survived the round trips.
    for section, text in SECTIONS.items():
        expect(page.locator(f"#id_{section}")).to_have_value(text)
    for number, link in enumerate(WHYS_LINKS):
        expect(page.locator(f"#whys-0-link-{number}")).to_have_value(link)
    for number, item in enumerate(ACTION_ITEMS):
        expect(page.locator(f"#id_items-{number}-title")).to_have_value(item["title"])
    coe = CoeDocument.objects.get(incident__key=key)
    assert coe.whys == [{"cause": WHYS_CAUSE, "links": WHYS_LINKS}]
    assert coe.incident.action_items.count() == 2

    # The quality check lets it go to review.
    quality = page.locator("#quality")
    failing = quality.locator("li.fail").all_inner_texts()
    expect(page.locator("#submit-blocked")).to_have_count(0)
    for rule in ("L01", "L02", "L04", "L05", "L07", "L11", "L18"):
        expect(quality.locator("li", has_text=rule).first, f"{rule} fails; failing: {failing}").to_have_class("pass")

    page.screenshot(path=artifacts / "coe-editor.png", full_page=True)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messages")).to_contain_text("Submitted for review")
    expect(page.locator(".page-head .badge")).to_have_text("In review")


@pytest.mark.django_db(transaction=True)
def test_reviewer_writes_approver_publishes_leader_reads(
    page, new_page, login, reviewer, approver, leader, artifacts, notices_delivered
):
    # The reviewer records the incident, its timeline and the COE.
    login(page, reviewer.username)
    key = create_incident(page)
    add_timeline_events(page)
    write_coe(page, key, artifacts)
    assert page.dialogs == [], "no leave-page warning expected: autosave had saved everything"

    # The approver comments on a section.
    approver_page = new_page()
    login(approver_page, approver.username)
    approver_page.goto(f"/incidents/{key}/coe/")
    impact = approver_page.locator("#section-impact")
    expect(impact).to_contain_text("About 12,400 checkout requests failed")
    impact.get_by_text("Comment on this section").click()
    impact.get_by_label("Comment").fill("Does the **8%** include retries from the mobile app?")
    impact.get_by_role("button", name="Add comment").click()
    approver_page.wait_for_url(f"**/incidents/{key}/coe/#comments-impact")
    expect(approver_page.locator("#comments-impact .comment strong").last).to_have_text("8%")

    # The reviewer answers it.
    page.goto(f"/incidents/{key}/coe/")
    thread = page.locator("#comments-impact")
    expect(thread).to_contain_text("Does the 8% include retries from the mobile app?")
    thread.get_by_label("Answer").fill("Yes: retries are counted once per checkout attempt.")
    thread.get_by_role("button", name="Answer").click()
    page.wait_for_url(f"**/incidents/{key}/coe/#comments-impact")
    expect(page.locator("#comments-impact .reply")).to_contain_text("retries are counted once")
    # An author cannot approve: no Approve button for the reviewer.
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # Approval waits for the open comment, and says which.
    approver_page.reload()
    expect(approver_page.locator("#comments-impact .reply")).to_contain_text("rita")
    expect(approver_page.locator("#open-comments")).to_contain_text("Approval waits for 1 open comment")
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.locator(".messages")).to_contain_text("Not approved: 1 review comment is still open")
    expect(approver_page.locator(".page-head .badge")).to_have_text("In review")

    # The reviewer resolves it in place, from the keyboard.
    page.evaluate("window.__sameDocument = true")
    resolve = page.locator("#comments-impact").get_by_role("button", name="Resolve the comment by arun")
    resolve.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#comments-impact .comment.is-resolved")).to_contain_text("by rita")
    expect(page.locator("#open-comments")).to_contain_text("Every review comment is resolved.")
    assert page.evaluate("window.__sameDocument") is True

    # The approver approves and publishes.
    approver_page.reload()
    expect(approver_page.locator("#open-comments")).to_contain_text("Every review comment is resolved.")
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.locator(".messages")).to_contain_text("Approved")
    approver_page.get_by_role("button", name="Publish").click()
    expect(approver_page.locator(".messages")).to_contain_text("Published.")
    expect(approver_page.locator(".page-head .badge")).to_have_text("Published")

    # A leader reads the published COE.
    leader_page = new_page()
    login(leader_page, leader.username)
    leader_page.goto(f"/incidents/{key}/")
    expect(leader_page.locator(".controls .badge")).to_have_text("Published")
    leader_page.get_by_role("link", name="Open the COE").click()
    expect(leader_page.locator(".page-head .badge")).to_have_text("Published")
    expect(leader_page.locator(".page-head")).to_contain_text("Approved by arun")
    expect(leader_page.locator("#section-summary strong")).to_have_text("one host")
    expect(leader_page.locator("#section-root_cause")).to_contain_text("without comparing them with the current pool")
    expect(leader_page.locator("#section-whys li")).to_have_count(len(WHYS_LINKS))
    expect(leader_page.locator("#h-items + .table-wrap tbody tr")).to_have_count(2)
    expect(leader_page.get_by_role("button", name="Approve")).to_have_count(0)
    leader_page.screenshot(path=artifacts / "coe-published.png", full_page=True)

    coe = CoeDocument.objects.get(incident__key=key)
    assert coe.status == "published"
    assert coe.approver == approver
    for each in (page, approver_page, leader_page):
        assert_no_console_errors(each)

    # Each step told the people concerned, once: the approver of the submission, the author of the rest.
    sent = sorted((message.to[0], message.subject) for message in mail.outbox)
    assert sent == [
        (approver.email, f"{key}: rita answered a comment on the COE (Impact)"),
        (approver.email, f"{key}: rita submitted the COE for review"),
        (reviewer.email, f"{key}: arun approved the COE"),
        (reviewer.email, f"{key}: arun commented on the COE (Impact)"),
        (reviewer.email, f"{key}: arun published the COE"),
    ]


@pytest.mark.django_db(transaction=True)
def test_add_a_why_and_add_another_cause_add_empty_rows(page, login, reviewer):
    incident = IncidentFactory(title="Search latency after an index rebuild")
    coe = services.coe_start(incident=incident, user=reviewer)
    services.coe_save(
        coe=coe, user=reviewer, data={"whys": [{"cause": WHYS_CAUSE, "links": WHYS_LINKS}]}, base_version=1
    )
    login(page, reviewer.username)
    page.goto(f"/incidents/{incident.key}/coe/")
    page.get_by_role("button", name="Add a why to cause 1").click()
    expect(page).to_have_url(re.compile(r"/coe/#whys$"))
    expect(page.get_by_label("Why 4", exact=True)).to_be_visible(timeout=2_000)
    page.get_by_role("button", name="Add another cause").click()
    expect(page.get_by_label("Cause 2", exact=True)).to_be_visible(timeout=2_000)


@pytest.mark.django_db(transaction=True)
def test_approval_waits_for_a_comment_the_author_resolves_in_place(
    page, new_page, login, reviewer, approver, artifacts, notices_delivered
):
    incident = IncidentFactory(title="Search latency after an index rebuild")
    coe = services.coe_start(incident=incident, user=reviewer)
    # In review without the quality check's fixtures: this test is about the comments.
    CoeDocument.objects.filter(pk=coe.pk).update(status="in_review")

    # The approver finds it waiting, counted in the navigation, and comments.
    approver_page = new_page()
    login(approver_page, approver.username)
    nav = approver_page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Waiting for my review 1")).to_be_visible()
    nav.get_by_role("link", name="Waiting for my review 1").click()
    expect(approver_page.get_by_role("heading", name="Waiting for my review")).to_be_visible()
    violations = axe_violations(approver_page)
    assert violations == [], f"axe on the review queue:\n{describe(violations)}"
    approver_page.screenshot(path=artifacts / "review-queue.png", full_page=True)
    approver_page.get_by_role("link", name=incident.key).click()
    summary = approver_page.locator("#section-summary")
    summary.get_by_text("Comment on this section").click()
    summary.get_by_label("Comment").fill("Which index was rebuilt?")
    summary.get_by_role("button", name="Add comment").click()
    expect(approver_page.locator("#open-comments")).to_contain_text("Summary: arun, “Which index was rebuilt?”")
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.locator(".messages")).to_contain_text(
        "Not approved: 1 review comment is still open. Resolve it first: Summary (arun: “Which index was rebuilt?”)."
    )

    # The author resolves it from the keyboard, without leaving the page.
    login(page, reviewer.username)
    page.goto(f"/incidents/{incident.key}/coe/")
    page.evaluate("window.__sameDocument = true")
    page.locator("#comments-summary").get_by_role("button", name="Resolve the comment by arun").focus()
    page.keyboard.press("Enter")
    resolved = page.locator("#comments-summary .comment.is-resolved")
    expect(resolved).to_contain_text("Resolved")
    expect(resolved).to_contain_text("by rita")
    expect(page.locator("#open-comments")).to_contain_text("Every review comment is resolved.")
    assert page.evaluate("window.__sameDocument") is True
    # Focus stays on the button, now offering to reopen it.
    expect(resolved.get_by_role("button", name="Reopen the comment by arun")).to_be_focused()
    violations = axe_violations(page)
    assert violations == [], f"axe after resolving:\n{describe(violations)}"
    page.screenshot(path=artifacts / "coe-comment-resolved.png", full_page=True)

    approver_page.reload()
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.locator(".page-head .badge")).to_have_text("Approved")
    expect(approver_page.get_by_role("navigation", name="Main")).to_contain_text("Waiting for my review 0")
    for each in (page, approver_page):
        assert_no_console_errors(each)
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (reviewer.email, f"{incident.key}: arun approved the COE"),
        (reviewer.email, f"{incident.key}: arun commented on the COE (Summary)"),
    ]
