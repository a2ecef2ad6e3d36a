"""A reviewer without admin rights records an incident's evidence on its page, in place: two sources
(the second by keyboard alone), two disputing claims, the adopted cause with its rationale, an AI
involvement record citing a source for its inherited permissions, an impact figure, a control and
the COE's operational review. A mistake comes back beside its field with everything typed kept."""

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Control, Incident
from incidents.models.vocab import Severity, SourceKind, TriState
from tests.factories import ClaimFactory, ControlFactory, IncidentFactory

from .conftest import PHONE
from .pages import open_form, unexpected_errors
from .test_accessibility import SCROLL_CHECK, axe_violations, describe

pytestmark = pytest.mark.browser

FT = "https://www.theregister.com/2026/02/24/aws_kiro_outage/"
AMAZON = "https://www.aboutamazon.com/news/aws/aws-kiro-ft-correction"


@pytest.fixture
def incident(reviewer) -> Incident:
    incident = IncidentFactory(title="Cost Explorer interrupted in one region", severity=Severity.SEV1, owner=reviewer)
    services.coe_start(incident=incident, user=reviewer)
    return incident


@pytest.fixture
def control(roles) -> Control:
    return ControlFactory(name="Peer review for production access", scope="Production access")


def test_a_reviewer_records_the_evidence_in_place(page, login, reviewer, incident, control, artifacts):
    assert not reviewer.is_staff
    assert not reviewer.is_superuser
    login(page, reviewer.username)
    page.goto(incident.get_absolute_url())

    # The first source, with the mouse. The form takes the focus; saved, the focus is back on the button.
    form = open_form(page, "sources", "Add a source")
    expect(form.locator("#id_url")).to_be_focused()
    form.locator("#id_url").fill(FT)
    form.locator("#id_title").fill("AWS outage blamed on its own AI coding tool")
    form.locator("#id_publisher").fill("The Register")
    form.locator("#id_kind").select_option(SourceKind.PRESS)
    form.locator("#id_published_on").fill("2026-02-24")
    form.get_by_role("button", name="Add source").click()
    sources = page.locator("#evidence-sources")
    expect(sources.get_by_role("link", name="AWS outage blamed on its own AI coding tool", exact=True)).to_be_visible()
    expect(sources.get_by_role("link", name="Add a source")).to_be_focused()

    # The second by keyboard alone, from that focused button: Enter opens, Tab moves, Enter submits.
    page.keyboard.press("Enter")
    expect(page.locator("#evidence-sources #id_url")).to_be_focused()
    page.keyboard.type(AMAZON)
    page.keyboard.press("Tab")
    page.keyboard.type("Correcting the Financial Times report about AWS, Kiro, and AI")
    page.keyboard.press("Tab")
    page.keyboard.type("Amazon")
    page.keyboard.press("Tab")
    page.keyboard.type("Vendor")  # a focused select picks the option typed
    expect(page.locator("#evidence-sources #id_kind")).to_have_value(SourceKind.VENDOR_PRIMARY)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Enter in a text field submits its form
    expect(sources.get_by_text("Amazon · Vendor (primary)")).to_be_visible()
    expect(sources.get_by_role("link", name="Add a source")).to_be_focused()

    # Escape cancels a form and gives the focus back to the button that opened it.
    form = open_form(page, "claims", "Add a claim")
    form.locator("#id_claimant").fill("Abandoned")
    page.keyboard.press("Escape")
    expect(page.locator("#evidence-claims form[data-evidence-form]")).to_have_count(0)
    expect(page.locator("#evidence-claims").get_by_role("link", name="Add a claim")).to_be_focused()

    # A claim missing its statement comes back with the error beside it and the typed values kept.
    form = open_form(page, "claims", "Add a claim")
    form.locator("#id_source").select_option(label="The Register: AWS outage blamed on its own AI coding tool")
    form.locator("#id_claimant").fill("Financial Times")
    form.locator("#id_stance").select_option("asserts")
    form.locator("#id_claimed_cause").select_option("automation_defect")
    form.locator("#id_claimed_ai_role").select_option("executor")
    form.locator("#id_quote").fill("delete and then recreate the environment")
    form.locator("#id_statement").evaluate("field => field.removeAttribute('required')")
    form.get_by_role("button", name="Add claim").click()
    statement = page.locator("#evidence-claims #id_statement")
    expect(statement).to_have_attribute("aria-invalid", "true")
    expect(statement).to_have_accessible_description(re.compile("This field is required."))
    expect(statement).to_be_focused()
    expect(page.locator("#evidence-claims #id_claimant")).to_have_value("Financial Times")
    expect(page.locator("#evidence-claims #id_quote")).to_have_value("delete and then recreate the environment")
    page.screenshot(path=artifacts / "evidence-claim-error.png", full_page=True)
    statement.fill("Kiro deleted and recreated the environment.")
    page.locator("#evidence-claims").get_by_role("button", name="Add claim").click()
    expect(page.locator("#evidence-claims article.claim")).to_have_count(1)

    form = open_form(page, "claims", "Add a claim")
    form.locator("#id_source").select_option(
        label="Amazon: Correcting the Financial Times report about AWS, Kiro, and AI"
    )
    form.locator("#id_claimant").fill("Amazon")
    form.locator("#id_stance").select_option("denies")
    form.locator("#id_claimed_cause").select_option("access_control")
    form.locator("#id_claimed_ai_role").select_option("none")
    form.locator("#id_statement").fill("User error, misconfigured access controls, not AI.")
    form.get_by_role("button", name="Add claim").click()
    expect(page.locator("#evidence-claims article.claim")).to_have_count(2)

    # The adopted cause needs its rationale.
    form = open_form(page, "claims", "Edit the attribution and adopted cause")
    form.locator("#id_attribution_status").select_option("disputed")
    form.locator("#id_adopted_cause").select_option("access_control")
    form.locator("#id_adopted_cause_rationale").fill(
        "Both accounts agree the agent held the operator's broader permissions; the access control let it act."
    )
    form.get_by_role("button", name="Save attribution").click()
    claims = page.locator("#evidence-claims")
    expect(claims.get_by_text("Adopted cause:")).to_be_visible()
    expect(claims.locator("h2 .badge-disputed")).to_have_text("Disputed")

    # The AI involvement, its inherited permissions citing The Register.
    form = open_form(page, "ai", "Add an AI involvement record")
    form.locator("#id_agent_name").fill("Kiro")
    form.locator("#id_vendor").fill("AWS")
    form.locator("#id_role").select_option("executor")
    form.locator("#id_gate_present").select_option("yes")
    form.locator("#id_gate_bypassed").select_option("yes")
    form.locator("#id_permissions_held").select_option("write_prod")
    form.locator("#id_permissions_inherited").select_option("yes")
    form.locator("#id_cite_permissions_inherited").select_option(
        label="The Register: AWS outage blamed on its own AI coding tool"
    )
    form.locator("#id_action_class").select_option("delete_recreate")
    form.get_by_role("button", name="Add AI involvement").click()
    ai = page.locator("#evidence-ai")
    expect(ai.get_by_role("heading", name="Kiro")).to_be_visible()
    expect(ai.get_by_role("link", name="[The Register]")).to_be_visible()

    # An impact figure.
    form = open_form(page, "impact", "Add an impact figure")
    form.locator("#id_name").fill("Hours of interruption")
    form.locator("#id_value").fill("13")
    form.locator("#id_unit").fill("hours")
    form.locator("#id_is_estimate").check()
    form.get_by_role("button", name="Add figure").click()
    expect(page.locator("#evidence-impact td.num")).to_have_text("~13 hours")

    # The control it led to, and the operational review.
    form = open_form(page, "controls", "Change the linked controls")
    form.get_by_label("Peer review for production access").check()
    form.get_by_role("button", name="Save controls").click()
    expect(page.locator("#evidence-controls").get_by_text("Peer review for production access")).to_be_visible()

    form = open_form(page, "ops_review", "Record the operational review")
    form.get_by_label("Reviewed in an operational meeting").check()
    form.locator("#id_ops_review_on").fill("2026-03-02")
    form.locator("#id_ops_review_meeting").fill("Weekly operations review")
    form.get_by_role("button", name="Save operational review").click()
    expect(page.locator("#evidence-ops_review")).to_contain_text("Reviewed in Weekly operations review on 2026-03-02")

    page.screenshot(path=artifacts / "evidence-recorded.png", full_page=True)
    assert unexpected_errors(page) == []

    incident.refresh_from_db()
    assert set(incident.sources.values_list("url", flat=True)) == {FT, AMAZON}
    assert sorted(incident.claims.values_list("claimant", "stance")) == [
        ("Amazon", "denies"),
        ("Financial Times", "asserts"),
    ]
    assert (incident.attribution_status, incident.adopted_cause) == ("disputed", "access_control")
    involvement = incident.ai_involvements.get()
    assert involvement.permissions_inherited == TriState.YES
    assert list(involvement.citations.values_list("field", "source__url")) == [("permissions_inherited", FT)]
    figure = incident.impact_figures.get()
    assert (figure.value, figure.is_estimate) == (Decimal("13"), True)
    assert list(incident.controls.all()) == [control]
    coe = incident.coe
    assert (coe.reviewed_in_ops_meeting, coe.ops_review_on) == (True, date(2026, 3, 2))


def test_the_page_with_an_evidence_form_open_has_no_serious_axe_violations(page, login, reviewer, incident):
    login(page, reviewer.username)
    page.goto(incident.get_absolute_url())
    for section, button in (("sources", "Add a source"), ("ai", "Add an AI involvement record")):
        open_form(page, section, button)
        violations = axe_violations(page)
        assert violations == [], f"axe with the {section} form open:\n{describe(violations)}"
        page.keyboard.press("Escape")
        expect(page.locator("form[data-evidence-form]")).to_have_count(0)
    # A form sent back with its errors.
    form = open_form(page, "sources", "Add a source")
    form.locator("#id_url").fill("https://example.com/new")
    form.get_by_role("button", name="Add source").click()
    expect(page.locator("#evidence-sources #id_title")).to_have_attribute("aria-invalid", "true")
    violations = axe_violations(page)
    assert violations == [], f"axe with a form's errors:\n{describe(violations)}"
    assert unexpected_errors(page) == []


def test_a_reader_sees_the_evidence_without_buttons(page, login, leader, incident):
    login(page, leader.username)
    page.goto(incident.get_absolute_url())
    expect(page.locator("#evidence-sources")).to_be_visible()
    expect(page.locator("[data-evidence-section] a[hx-get]")).to_have_count(0)


def test_an_open_form_fits_a_phone(new_page, login, reviewer, incident, artifacts):
    page = new_page(viewport=PHONE)
    login(page, reviewer.username)
    page.goto(incident.get_absolute_url())
    open_form(page, "ai", "Add an AI involvement record")
    sizes = page.evaluate(SCROLL_CHECK)
    page.screenshot(path=artifacts / "evidence-ai-form-phone.png", full_page=True)
    assert sizes["scroll"] <= sizes["client"] + 1, "too wide:\n" + "\n".join(sizes["wide"])


def test_a_claim_is_edited_and_removed_in_place(page, login, reviewer, incident):
    claim = ClaimFactory(incident=incident, claimant="Financial Times")
    incident.sources.add(claim.source)
    login(page, reviewer.username)
    page.goto(incident.get_absolute_url())
    claims = page.locator("#evidence-claims")
    claims.get_by_role("link", name="Edit claim by Financial Times").click()
    expect(claims.locator("#id_source")).to_be_focused()
    claims.locator("#id_stance").select_option("corrects")
    claims.get_by_role("button", name="Save claim").click()
    expect(claims.get_by_text("Corrects", exact=True)).to_be_visible()
    expect(claims.get_by_role("link", name="Edit claim by Financial Times")).to_be_focused()
    claims.get_by_role("button", name="Remove claim by Financial Times").click()
    expect(claims.get_by_text("No claims recorded.")).to_be_visible()
    # The button is gone with its claim: the focus goes to the section's heading.
    expect(claims.get_by_role("heading", name="Attribution")).to_be_focused()
    assert not incident.claims.exists()
    assert page.dialogs == []
    assert unexpected_errors(page) == []
