"""A reviewer imports a spreadsheet of incidents: uploads the CSV, maps its columns, previews, confirms and
sees the incidents listed; uploading the same file again creates nothing.

The mapping saved by name on the first upload fills in the second one's columns by itself, so the second
time round the reviewer only previews: every row is unchanged, and there is nothing to confirm.
"""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from incidents.models import ImportMapping, Incident

from .pages import assert_no_console_errors, unexpected_errors
from .test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/coe_h19c")
SPREADSHEET = (
    "Incident name,Opened,Sev,Systems,Why,Owner notes\n"
    "Checkout errors after config push,2024-03-05 14:05,P1,checkout; payments,"
    '"A config push removed the connection pool, so checkout timed out",call the vendor back\n'
    "Search slow for an afternoon,2024-04-02,Sev 3,search,The index was rebuilt at noon,\n"
    "Login loop on mobile,May 2024,critical,auth,,\n"
)
TITLES = ("Checkout errors after config push", "Search slow for an afternoon", "Login loop on mobile")


def upload(page: Page, path: Path) -> None:
    page.goto("/incidents/imports/")
    page.get_by_label("File").set_input_files(path)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()


def field_for(page: Page, heading: str):
    return page.get_by_label(f"Field for the column {heading}")


def shot(page: Page, artifacts: Path, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for folder in (SHOTS, artifacts):
        page.screenshot(path=folder / f"import-csv-{name}.png", full_page=True)


def test_a_csv_is_mapped_previewed_imported_and_a_second_upload_creates_nothing(
    reviewer, page, login, artifacts, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    spreadsheet = tmp_path / "ops-incidents.csv"
    spreadsheet.write_text(SPREADSHEET, encoding="utf-8-sig")  # as Excel saves "CSV UTF-8"
    login(page, "rita")

    upload(page, spreadsheet)
    rows = page.locator("table.column-map tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Checkout errors after config push")
    # Guessed from the headings' names: Sev and Systems; the others are the reviewer's to say.
    expect(field_for(page, "Sev")).to_have_value("severity")
    expect(field_for(page, "Systems")).to_have_value("services")
    expect(field_for(page, "Incident name")).to_have_value("note")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    field_for(page, "Incident name").select_option(label="Title")
    field_for(page, "Opened").select_option(label="Started at")
    field_for(page, "Why").select_option(label="COE: Root cause")
    page.get_by_label("Save this mapping as").fill("Ops spreadsheet")
    shot(page, artifacts, "1-columns")

    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", name="What the import would do")).to_be_visible()
    expect(page.locator("#import-progress [role=status]")).to_contain_text("would create 3,")
    expect(page.locator(".import-report")).to_contain_text("Owner notes")  # kept as a note, not lost
    assert not Incident.objects.exists(), "a dry run writes nothing"
    shot(page, artifacts, "2-preview")

    page.get_by_role("button", name="Import 3 postmortems").click()
    expect(page.locator("#import-progress [role=status]")).to_contain_text("created 3,")
    page.get_by_role("link", name="See the incidents").click()
    for title in TITLES:
        expect(page.get_by_role("cell", name=title, exact=True)).to_be_visible()
    shot(page, artifacts, "3-listed")
    assert ImportMapping.objects.get(name="Ops spreadsheet").columns["Why"] == "section:root_cause"
    checkout = Incident.objects.get(title=TITLES[0])
    assert checkout.severity == "SEV1"
    assert sorted(checkout.services.values_list("name", flat=True)) == ["checkout", "payments"]
    before = set(Incident.objects.values_list("pk", "updated_at"))

    # The same file again: the saved mapping fills the columns in, and the preview finds nothing new.
    upload(page, spreadsheet)
    expect(page.locator("#columns-form")).to_contain_text("Filled in from the saved mapping Ops spreadsheet")
    expect(field_for(page, "Incident name")).to_have_value("title")
    expect(field_for(page, "Why")).to_have_value("section:root_cause")
    # Choosing another saved mapping (here: none) fills the columns in again, in place.
    saved = page.get_by_label("Use a saved mapping")
    saved.select_option(label="None: guesses from the headings")
    expect(field_for(page, "Incident name")).to_have_value("note")
    saved.select_option(label="Ops spreadsheet")
    expect(field_for(page, "Incident name")).to_have_value("title")
    assert page.url.endswith("/columns/")  # swapped in by htmx: no page load, no ?mapping= in the address
    shot(page, artifacts, "4-second-upload-columns")
    page.get_by_role("button", name="Preview the import").click()
    status = page.locator("#import-progress [role=status]")
    expect(status).to_contain_text("would create 0,")
    expect(status).to_contain_text("unchanged 3,")
    expect(page.get_by_text("Nothing to import")).to_be_visible()
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    shot(page, artifacts, "5-second-upload-preview")
    assert set(Incident.objects.values_list("pk", "updated_at")) == before
    assert_no_console_errors(page)


def test_a_mapping_without_a_title_is_refused_in_place_with_every_choice_kept(
    reviewer, page, login, artifacts, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    spreadsheet = tmp_path / "ops-incidents.csv"
    spreadsheet.write_text(SPREADSHEET)
    login(page, "rita")
    upload(page, spreadsheet)
    field_for(page, "Opened").select_option(label="Started at")
    field_for(page, "Why").select_option(label="COE: Root cause")
    page.get_by_label("Save this mapping as").fill("Ops spreadsheet")
    page.get_by_role("button", name="Preview the import").click()

    expect(page.get_by_role("alert")).to_contain_text("No column is mapped to the title")
    expect(field_for(page, "Opened")).to_have_value("started_at")
    expect(field_for(page, "Why")).to_have_value("section:root_cause")
    expect(page.get_by_label("Save this mapping as")).to_have_value("Ops spreadsheet")
    violations = axe_violations(page)
    assert violations == [], describe(violations)
    shot(page, artifacts, "6-no-title")
    assert not ImportMapping.objects.exists()

    field_for(page, "Incident name").select_option(label="Title")
    page.get_by_role("button", name="Preview the import").click()
    expect(page.locator("#import-progress [role=status]")).to_contain_text("would create 3,")
    assert unexpected_errors(page) == []
