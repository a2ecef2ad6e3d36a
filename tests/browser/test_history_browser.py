"""The incident page's History section, as a reviewer uses it: a change made on the page shows there
with its author, values before and after by their labels, changes after the COE's publication
marked, older changes a keyboard press away, and nothing the Content-Security-Policy refuses."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import CoeDocument
from incidents.models.vocab import CoeStatus, Severity

pytestmark = pytest.mark.browser


@pytest.fixture
def published(reviewer, approver):
    """An incident with a published COE: 26 changes before publication, one after it."""
    incident = services.incident_create(
        user=reviewer,
        data={"title": "Checkout errors", "severity": Severity.SEV2, "started_at": timezone.now() - timedelta(days=9)},
    )
    for number in range(25):
        services.incident_update(user=reviewer, incident=incident, data={"summary": f"Draft {number}"})
    services.incident_update(user=approver, incident=incident, data={"severity": Severity.SEV1})
    coe = services.coe_start(incident=incident, user=reviewer)
    CoeDocument.objects.filter(pk=coe.pk).update(
        status=CoeStatus.PUBLISHED, published_at=timezone.now(), approver=approver
    )
    return incident


def test_the_history_section_shows_a_change_made_on_the_page(published, page, login, artifacts):
    login(page, "rita")
    page.goto(f"/incidents/{published.key}/")

    # A change made in place on the page, after the COE's publication.
    page.get_by_role("link", name="Add an impact figure").click()
    form = page.get_by_role("form", name="Add an impact figure")
    form.get_by_label("Name").fill("Lost orders")
    form.get_by_label("Value").fill("120000")
    form.get_by_role("button", name="Add figure").click()
    expect(page.locator("#evidence-impact")).to_contain_text("Lost orders")

    # Scrolled into view, the section loads the history.
    history = page.locator("#history")
    history.scroll_into_view_if_needed()
    panel = page.locator("#history-panel")
    expect(panel).to_be_visible()
    newest = panel.locator("tbody tr").first
    expect(newest).to_contain_text("rita")
    expect(newest).to_contain_text("Impact figure created")
    expect(newest).to_contain_text("Lost orders")
    expect(newest).to_contain_text("after publication")
    severity = panel.locator("tbody tr", has_text="arun")
    expect(severity).to_contain_text(f"{Severity.SEV2.label} → {Severity.SEV1.label}")
    expect(panel).to_contain_text("Page 1 of 2")
    page.screenshot(path=str(artifacts / "history-section.png"), full_page=True)

    # The next page, by keyboard.
    panel.get_by_role("link", name="Older changes").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#history-panel")).to_contain_text("Page 2 of 2")  # 25 a page
    expect(page.locator("#history-panel tbody tr").last).to_contain_text("Incident created")
    expect(page.locator("#history-panel")).not_to_contain_text("after publication")
    page.locator("#history").screenshot(path=str(artifacts / "history-section-older.png"))

    assert page.console_errors == []
