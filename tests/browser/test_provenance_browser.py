"""The seeded incidents in Chromium: a reader tells reported facts, our readings and demo states apart.

Each seeded incident's page shows its sources' facts as "Reported by <source>", our own statements
behind a dashed "Our ..." label, and its COE approval and action item progress behind a dotted
"Demo workflow" label under a note; the three look different (shape and words, not colour alone),
never sit inside one another, and axe finds nothing serious. Times known only to the day or
coarser show no clock time. Screenshots of every page go to test-artifacts/ (and PROVENANCE_SHOTS,
if set).
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from incidents.models import CoeDocument, Incident
from incidents.seed.loader import load

from .test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser

# What each kind of statement looks like: (border style, the label's words).
LOOKS = """() => {
  const style = (selector) => {
    const el = document.querySelector(selector);
    return el && getComputedStyle(el).borderTopStyle;
  };
  return {ours: style('.badge-ours'), demo: style('.badge-demo'), reported: style('.basis-reported')};
}"""


@pytest.fixture
def seeded(roles):
    load()


def _shots(artifacts: Path) -> list[Path]:
    folders = [artifacts]
    if os.environ.get("PROVENANCE_SHOTS"):
        folders.append(Path(os.environ["PROVENANCE_SHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def test_each_seeded_incident_shows_reported_facts_our_readings_and_demo_states_apart(
    seeded, page: Page, login, artifacts
):
    incidents = list(Incident.objects.order_by("started_at"))
    assert len(incidents) >= 4, "the seeded knowledge base"
    assert all(incident.demo for incident in incidents)
    login(page, "leader", "demo")
    ours_seen = 0
    for incident in incidents:
        page.goto(incident.get_absolute_url())
        expect(page.get_by_role("heading", level=1)).to_have_text(incident.title)
        expect(page.get_by_role("note")).to_contain_text("Demo data.")

        # Reported facts name their source with a link; each timeline event says whose it is.
        reported = page.locator(".basis-reported")
        assert reported.count() > 0, incident.key
        assert page.locator(".basis-reported a[href^='http']").count() > 0, incident.key
        events = page.locator("ol.timeline > li")
        assert page.locator("ol.timeline .basis").count() == events.count(), incident.key
        ours_seen += page.locator(".badge-ours").count()

        # The three never inside one another: a demo state is never part of a reported fact.
        assert page.locator(".basis-reported .badge-ours, .basis-reported .badge-demo").count() == 0
        assert page.locator(".basis-ours .badge-demo").count() == 0

        # Every action item's status is labelled demo, in a cell apart from its source.
        rows = page.locator("section[aria-labelledby='h-actions'] tbody tr")
        for row in rows.all():
            status = row.locator("td").nth(5)
            expect(status.locator(".badge-demo")).to_have_text("Demo workflow")
            assert row.locator("td").first.locator(".badge-demo").count() == 0
        # A COE approved by a demo user says so beside the approval.
        if CoeDocument.objects.filter(incident=incident, approver__isnull=False).exists():
            panel = page.get_by_role("group", name="COE and controls")
            expect(panel.locator(".badge-demo")).to_have_text("Demo workflow")

        # Known only to the day, month or quarter: no clock time.
        for when in page.locator(
            "time[data-precision='day'], time[data-precision='month'], time[data-precision='quarter']"
        ).all():
            assert ":" not in when.inner_text(), (incident.key, when.inner_text())

        violations = axe_violations(page)
        assert violations == [], f"axe on {incident.key}:\n{describe(violations)}"
        for folder in _shots(artifacts):
            page.screenshot(path=folder / f"provenance-{incident.key}.png", full_page=True)

    assert ours_seen > 0, "our readings are labelled somewhere in the knowledge base"
    looks = page.evaluate(LOOKS)
    # Dashed for ours, dotted for a demo's, none for a reported fact: told apart without colour.
    assert looks == {"ours": "dashed", "demo": "dotted", "reported": "none"}, looks
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)


def test_a_seeded_coe_and_action_item_show_whose_each_statement_is(seeded, page: Page, login, artifacts):
    coe = CoeDocument.objects.select_related("incident").filter(approver__isnull=False).order_by("id").first()
    assert coe is not None, "the seeded knowledge base has an approved COE"
    incident = coe.incident
    login(page, "leader", "demo")

    page.goto(f"/incidents/{incident.key}/coe/")
    expect(page.get_by_role("note")).to_contain_text("Demo data.")
    expect(page.locator(".page-head .meta .badge-demo")).to_have_text("Demo workflow")  # beside the approval
    rows = page.locator("section[aria-labelledby='h-items'] tbody tr")
    assert rows.count() == incident.action_items.count()
    for row in rows.all():
        cells = row.locator("td")
        assert cells.first.locator(".basis").count() == 1  # reported by its source, or our proposal
        expect(cells.nth(5).locator(".badge-demo")).to_have_text("Demo workflow")
    assert axe_violations(page) == []
    for folder in _shots(artifacts):
        page.screenshot(path=folder / f"provenance-{incident.key}-coe.png", full_page=True)

    item = incident.action_items.order_by("id").first()
    page.goto(f"/incidents/{incident.key}/actions/{item.pk}/")
    expect(page.get_by_role("note")).to_contain_text("Demo data.")
    expect(page.locator("dl.facts dd").first.locator(".badge-demo")).to_have_text("Demo workflow")
    assert page.locator("h1 + p .basis").count() == 1
    assert axe_violations(page) == []
    assert page.console_errors == [], "console errors:\n" + "\n".join(page.console_errors)
