"""Accessibility in a real browser: axe-core on the main pages, and no sideways scrolling on a phone.

axe is the vendored copy, loaded from the app's own static URL so the page's
Content-Security-Policy (script-src 'self') allows it without bypassing anything.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import CoeDocument, ReviewComment
from incidents.models.vocab import ActorKind, CoeStatus, TimelineKind
from tests.factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    IncidentFactory,
    ServiceFactory,
    TimelineEventFactory,
)

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser

AXE_URL = "/static/vendor/axe-core/axe.min.js"
BLOCKING = ("serious", "critical")

COE_TEXT = {
    "summary": "A configuration push left the checkout pool with **one host**.",
    "impact": "About 12,400 checkout requests failed (8%) from 06:48 to 07:40 PDT.",
    "background": "The load balancer (LB) spreads traffic over a pool of hosts.",
    "timeline_narrative": "- 06:48 PDT errors begin\n- 07:40 PDT rollback",
    "metrics": "[Dashboard](https://dashboards.example.com/checkout) and a long unbroken token: "
    + "checkout-api-error-rate-p99-" * 6,
    "root_cause": "The deploy pipeline does not compare a new pool with the current one.",
    "related_items": "https://tickets.example.com/OPS-100",
}


def _incident(title: str, reviewer):
    incident = IncidentFactory(
        title=title,
        summary="Checkout requests failed after a pool push.",
        customer_impact="About 12,400 requests failed.",
        owner=reviewer,
        trigger_text="A pool configuration for a test environment reached production.",
    )
    incident.services.set([ServiceFactory(name="checkout-api")])
    start = incident.started_at
    TimelineEventFactory(incident=incident, occurred_at=start, kind=TimelineKind.START, description="Errors begin.")
    TimelineEventFactory(
        incident=incident,
        occurred_at=start + timedelta(minutes=14),
        kind=TimelineKind.DETECTION,
        actor_kind=ActorKind.AUTOMATION,
        description="The error-rate alarm pages the on-call engineer.",
        display_tz="America/Los_Angeles",
    )
    TimelineEventFactory(
        incident=incident,
        occurred_at=start + timedelta(minutes=30),
        kind=TimelineKind.AGENT_ACTION,
        actor_kind=ActorKind.AI_AGENT,
        description="The deploy agent retries the push.",
    )
    AIInvolvementFactory(incident=incident, agent_name="DeployBot", action_taken="Retried the push")
    ClaimFactory(incident=incident, quote="A configuration change caused the errors.")
    ActionItemFactory(
        incident=incident,
        title="Validate pool size in the deploy pipeline",
        owner=reviewer,
        ticket_url="https://tickets.example.com/OPS-101",
        answers_why="Why 3",
    )
    coe = services.coe_start(incident=incident, user=reviewer)
    data = {**COE_TEXT, "whys": [{"cause": "Pool shrank", "links": ["One host", "Push replaced list", "No check"]}]}
    services.coe_save(coe=coe, user=reviewer, data=data, base_version=coe.version)
    return incident


@pytest.fixture
def draft(reviewer):
    """An incident with a draft COE saved twice (so the history has revisions to compare)."""
    return _incident("Checkout API errors after a load-balancer pool push", reviewer)


@pytest.fixture
def in_review(reviewer, approver):
    """An incident whose COE is in review, with a comment and an answer."""
    incident = _incident("Search latency after an index rebuild", reviewer)
    coe = CoeDocument.objects.get(incident=incident)
    CoeDocument.objects.filter(pk=coe.pk).update(status=CoeStatus.IN_REVIEW)
    question = ReviewComment.objects.create(coe=coe, section="impact", author=approver, body="Where is **8%** from?")
    ReviewComment.objects.create(coe=coe, section="impact", author=reviewer, body="The dashboard.", reply_to=question)
    return incident


def axe_violations(page: Page) -> list[dict]:
    """Serious and critical axe violations on the page as it is now."""
    page.add_script_tag(url=AXE_URL)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {node['target']}  {node.get('failureSummary', '')[:200]!r}" for node in v["nodes"][:8])
    return "\n".join(lines)


def check_page(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response.ok, f"{path} answered {response.status}"
    violations = axe_violations(page)
    assert violations == [], f"axe found serious/critical problems on {path}:\n{describe(violations)}"
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/",
        "/incidents/?severity=SEV1&q=nothing-matches",
        "/incidents/new/",
        "/incidents/{key}/",
        "/incidents/{key}/timeline/",
        "/incidents/{key}/coe/",
        "/incidents/{key}/coe/history/",
        "/incidents/{key}/coe/history/?from=1&to=2",
    ],
)
def test_reviewer_pages_have_no_serious_axe_violations(page, login, reviewer, draft, path):
    login(page, reviewer.username)
    check_page(page, path.format(key=draft.key))


def test_coe_in_review_has_no_serious_axe_violations(page, login, approver, in_review):
    # The approver's view: comments, answers, approve and send-back forms.
    login(page, approver.username)
    check_page(page, f"/incidents/{in_review.key}/coe/")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()


def test_form_errors_and_messages_have_no_serious_axe_violations(page, login, reviewer, draft):
    login(page, reviewer.username)
    # A form sent back with errors beside its fields.
    page.goto("/incidents/new/")
    page.get_by_role("button", name="Create incident").click()
    title = page.get_by_role("textbox", name="Title", exact=True)
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_accessible_description("This field is required.")
    violations = axe_violations(page)
    assert violations == [], f"axe on the incident form with errors:\n{describe(violations)}"
    # A page with a flash message.
    page.goto(f"/incidents/{draft.key}/coe/")
    page.locator(".sticky-bar").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved (version")).to_be_visible()
    violations = axe_violations(page)
    assert violations == [], f"axe on the COE editor after saving:\n{describe(violations)}"
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)


def test_login_page_has_no_serious_axe_violations(page, roles):
    check_page(page, "/accounts/login/")


# The widest elements that stick out past the right edge: what to fix when the page scrolls.
SCROLL_CHECK = """() => {
  const root = document.documentElement;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const right = el.getBoundingClientRect().right;
    if (right > root.clientWidth + 1) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.classList.length ? "." + [...el.classList].join(".") : "");
      wide.push(`${name} (right edge ${Math.round(right)})`);
    }
  }
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide.slice(0, 12)};
}"""


def assert_no_horizontal_scroll(page: Page, path: str) -> None:
    page.goto(path)
    sizes = page.evaluate(SCROLL_CHECK)
    assert sizes["scroll"] <= sizes["client"] + 1, (
        f"{path} scrolls sideways on a phone ({sizes['scroll']} > {sizes['client']}); too wide:\n"
        + "\n".join(sizes["wide"])
    )


def test_phone_has_no_horizontal_scroll(new_page, login, reviewer, draft, in_review, artifacts):
    page = new_page(viewport=PHONE)
    login(page, reviewer.username)
    for path, screenshot in (
        ("/incidents/", "phone-incident-list.png"),
        (f"/incidents/{in_review.key}/coe/", "phone-coe-document.png"),
        (f"/incidents/{draft.key}/coe/", None),  # the editor
        (f"/incidents/{draft.key}/", None),
    ):
        assert_no_horizontal_scroll(page, path)
        if screenshot:
            page.screenshot(path=artifacts / screenshot, full_page=True)
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)
