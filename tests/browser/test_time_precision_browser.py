"""A reviewer records an incident whose detection is known only to the day, and an estimate.

Typed as just a date with the precision "to the day" and the estimate box ticked (by keyboard),
it shows on the incident page, on its timeline and in the drawn timeline as that date, marked
estimated, and never with a clock time. Screenshots go to test-artifacts/.
"""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident

pytestmark = pytest.mark.browser

CLOCK = re.compile(r"\d{1,2}:\d{2}")


def test_a_day_precision_estimated_detection_is_shown_without_a_clock_time(reviewer, page, login, artifacts):
    login(page, "rita")
    page.goto("/incidents/new/")
    page.get_by_label("Title").fill("Billing exports stalled")
    page.get_by_label("Severity").select_option("SEV2")
    page.get_by_label("Time zone of the times below").select_option("UTC")
    page.get_by_label("Impact started").fill("2025-12-09 22:15")
    page.get_by_label("Detected", exact=True).fill("2025-12-10")
    page.get_by_label("Detection known").select_option("day")
    # Keyboard only: tab to the estimate box and tick it with the space bar.
    page.get_by_label("Detection known").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("The detection is an estimate")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_label("The detection is an estimate")).to_be_checked()
    page.get_by_role("button", name="Create incident").click()

    # The new incident's timeline: its detection is an event already, typed once.
    page.wait_for_url("**/timeline/")
    incident = Incident.objects.get(title="Billing exports stalled")
    detection_row = page.locator("#timeline-panel tbody tr", has_text="Detection")
    expect(detection_row.locator("time")).to_have_text("2025-12-10")
    expect(detection_row.locator("time")).to_have_attribute("datetime", "2025-12-10")
    expect(detection_row.get_by_title("estimated")).to_be_visible()
    assert not CLOCK.search(detection_row.locator("td").first.inner_text())
    page.screenshot(path=str(artifacts / "time-precision-timeline.png"), full_page=True)

    page.goto(f"/incidents/{incident.key}/")
    detected = page.get_by_test_id("time-detected")
    expect(detected.locator("time")).to_have_text("2025-12-10")
    expect(detected).to_contain_text("≈")
    # Said in words to a screen reader; the start keeps its minute.
    assert "estimated" in detected.text_content()
    assert not CLOCK.search(detected.text_content())
    expect(page.get_by_test_id("time-started")).to_have_text("2025-12-09 22:15 UTC")
    # The drawn timeline: the detection's legend entry names the date, marked estimated, and its
    # mark is drawn hollow over the whole day.
    legend = page.locator(".chart-legend li.legend-detected")
    expect(legend).to_have_text("Detected 2025-12-10 (estimated)")
    expect(page.locator(".timeline-chart g.mark-detected.mark-estimated rect.band")).to_have_count(1)
    timeline_item = page.locator("ol.timeline li", has_text="Detection")
    expect(timeline_item.locator("time")).to_have_text("2025-12-10")
    assert not CLOCK.search(timeline_item.locator(".when").inner_text())
    page.locator("#h-times").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "time-precision-incident.png"), full_page=True)
    assert page.console_errors == []
