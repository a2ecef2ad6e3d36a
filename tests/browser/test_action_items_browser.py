"""An action item closed in the COE editor shows on the leader's dashboard as done on time.

The editor saves its action item table through the same service as the API and the item's
page, so closing an item there stamps its completion time, which the dashboard's "done on time"
counts. The leader looks at the dashboard before and after, as a person would.

The dashboard serves its kept figures stale-while-revalidate: the first view after a write may
still show the figures from before it (with their "as of" time) while a refresh is queued (run
in-process here, by the Celery worker in production), so the leader reloads until the figures
are newer than the write, as a person would.
"""

import re
from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from incidents.models import ActionItem
from incidents.models.vocab import ActionStatus
from tests import test_write_path

from .test_coe_workflow import AUTOSAVE_PROBE, wait_for_autosave
from .test_dashboard_browser import open_dashboard

pytestmark = pytest.mark.browser

open_item = test_write_path.open_item  # the fixture: an open item due in a week, with a draft COE


def action_item_counts(page: Page) -> dict[str, int]:
    """The numbers under the action items chart, by label."""
    figure = page.locator("#fig-action_items")
    figure.locator("summary").click()
    counts = {}
    for label in ("Open", "Overdue", "Done on time", "Done late"):
        text = figure.locator("tbody tr", has=page.get_by_role("cell", name=label, exact=True)).inner_text()
        counts[label] = int(re.search(r"(\d+)\s*$", text).group(1))
    return counts


def test_an_item_closed_in_the_editor_shows_on_the_dashboard_as_done_on_time(
    open_item, leader, page, new_page, login, artifacts
):
    login(page, "lee")
    open_dashboard(page)
    assert action_item_counts(page) == {"Open": 1, "Overdue": 0, "Done on time": 0, "Done late": 0}

    editor = new_page()
    editor.add_init_script(AUTOSAVE_PROBE)
    login(editor, "rita")
    editor.goto(f"/incidents/{open_item.incident.key}/coe/")
    expect(editor.locator("#id_items-0-title")).to_have_value(open_item.title)
    editor.locator("#id_items-0-status").select_option(ActionStatus.DONE)
    wait_for_autosave(editor)  # choosing autosaves the sections; the items wait for Save
    editor.locator(".sticky-bar").get_by_role("button", name="Save").click()
    expect(editor.locator(".messages")).to_contain_text("Saved (version")
    expect(editor.locator("#id_items-0-status")).to_have_value(ActionStatus.DONE)
    open_item.refresh_from_db()
    assert open_item.status == ActionStatus.DONE
    assert open_item.completed_at is not None
    assert editor.console_errors == []

    assert ActionItem.objects.get(pk=open_item.pk).completed_at.date() <= open_item.due_date

    closed_at = ActionItem.objects.get(pk=open_item.pk).completed_at
    for _ in range(5):  # a kept view or two, then the refreshed one
        open_dashboard(page)
        if datetime.fromisoformat(page.get_by_test_id("computed-at").get_attribute("datetime")) > closed_at:
            break
    page.screenshot(path=artifacts / "dashboard-item-closed-in-editor.png", full_page=True)
    assert page.console_errors == []
    assert action_item_counts(page) == {"Open": 0, "Overdue": 0, "Done on time": 1, "Done late": 0}
