"""The incident page's evidence sections: each form posted as a reviewer (with htmx and without),
errors beside the field with everything typed kept, readers refused, restricted incidents unknown."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from incidents.models import AIFieldCitation, Claim, ImpactFigure, Source
from incidents.models.vocab import TriState

from .factories import (
    AIInvolvementFactory,
    ClaimFactory,
    CoeDocumentFactory,
    ControlFactory,
    IncidentFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def incident():
    return IncidentFactory(severity="SEV1")


def url(name: str, incident, section: str, item=None) -> str:
    args = [incident.key, section] + ([item.pk] if item is not None else [])
    return reverse(f"incidents:{name}", args=args)


def test_a_reviewer_adds_a_source_in_place(client_for, reviewer, incident):
    client = client_for(reviewer)
    opened = client.get(url("evidence-add", incident, "sources"), **HTMX)
    assert opened.status_code == 200
    assert 'id="evidence-sources"' in opened.text
    assert "data-evidence-form" in opened.text
    assert "<html" not in opened.text, "htmx gets the section alone"
    saved = client.post(
        url("evidence-add", incident, "sources"),
        {"url": "https://vendor.example.com/post", "title": "Post", "publisher": "Vendor", "kind": "press"},
        **HTMX,
    )
    assert saved.status_code == 200
    assert "data-evidence-form" not in saved.text
    assert "https://vendor.example.com/post" in saved.text
    assert list(incident.sources.values_list("url", flat=True)) == ["https://vendor.example.com/post"]


def test_a_known_address_links_the_recorded_source(client_for, reviewer, incident):
    known = SourceFactory(url="https://vendor.example.com/known", title="Known", publisher="Vendor")
    response = client_for(reviewer).post(url("evidence-add", incident, "sources"), {"url": known.url}, **HTMX)
    assert response.status_code == 200
    assert list(incident.sources.all()) == [known]
    known.refresh_from_db()
    assert known.title == "Known"


def test_a_new_source_without_a_title_comes_back_with_the_error_and_the_typed_values(client_for, reviewer, incident):
    response = client_for(reviewer).post(
        url("evidence-add", incident, "sources"),
        {"url": "https://vendor.example.com/new", "publisher": "Typed publisher", "kind": "press"},
        **HTMX,
    )
    assert response.status_code == 422
    assert 'id="id_title_error"' in response.text
    assert 'aria-describedby="id_title_error"' in response.text
    assert 'value="Typed publisher"' in response.text
    assert not Source.objects.exists()


def test_editing_a_source_keeps_the_address_unique(client_for, reviewer, incident):
    source, other = SourceFactory(), SourceFactory()
    incident.sources.add(source)
    client = client_for(reviewer)
    assert "Save source" in client.get(url("evidence-item", incident, "sources", source), **HTMX).text
    data = {"url": other.url, "title": "T", "publisher": "P", "kind": "press"}
    refused = client.post(url("evidence-item", incident, "sources", source), data, **HTMX)
    assert refused.status_code == 422
    assert "already exists" in refused.text
    data["url"] = "https://vendor.example.com/moved"
    assert client.post(url("evidence-item", incident, "sources", source), data, **HTMX).status_code == 200
    source.refresh_from_db()
    assert source.url == "https://vendor.example.com/moved"


def test_removing_a_cited_source_is_refused_with_the_reason(client_for, reviewer, incident):
    source = SourceFactory(publisher="The Register")
    incident.sources.add(source)
    ClaimFactory(incident=incident, source=source)
    response = client_for(reviewer).post(url("evidence-delete", incident, "sources", source), **HTMX)
    assert response.status_code == 422
    assert "The Register is still cited by 1 claim" in response.text
    assert incident.sources.filter(pk=source.pk).exists()


def test_claims_are_added_edited_and_removed(client_for, reviewer, incident):
    source = SourceFactory()
    incident.sources.add(source)
    client = client_for(reviewer)
    data = {"source": source.pk, "claimant": "FT", "stance": "asserts", "statement": "The agent deleted it."}
    assert client.post(url("evidence-add", incident, "claims"), data, **HTMX).status_code == 200
    claim = Claim.objects.get()
    response = client.post(url("evidence-item", incident, "claims", claim), {**data, "stance": "denies"}, **HTMX)
    assert response.status_code == 200
    assert Claim.objects.get().stance == "denies"
    assert client.post(url("evidence-delete", incident, "claims", claim), **HTMX).status_code == 200
    assert not Claim.objects.exists()


def test_a_claim_offers_only_the_incidents_sources(client_for, reviewer, incident):
    mine, elsewhere = SourceFactory(title="Cited here"), SourceFactory(title="Cited elsewhere")
    incident.sources.add(mine)
    response = client_for(reviewer).get(url("evidence-add", incident, "claims"), **HTMX)
    assert "Cited here" in response.text
    assert "Cited elsewhere" not in response.text
    refused = client_for(reviewer).post(
        url("evidence-add", incident, "claims"),
        {"source": elsewhere.pk, "claimant": "Typed claimant", "stance": "asserts", "statement": "S"},
        **HTMX,
    )
    assert refused.status_code == 422
    assert 'id="id_source_error"' in refused.text
    assert 'value="Typed claimant"' in refused.text


def test_a_too_long_claimant_is_a_form_error_not_a_server_error(client_for, reviewer, incident):
    source = SourceFactory()
    incident.sources.add(source)
    response = client_for(reviewer).post(
        url("evidence-add", incident, "claims"),
        {"source": source.pk, "claimant": "x" * 201, "stance": "asserts", "statement": "Kept statement"},
        **HTMX,
    )
    assert response.status_code == 422
    assert 'id="id_claimant_error"' in response.text
    assert "Kept statement" in response.text


def test_the_adopted_cause_needs_its_rationale_beside_the_field(client_for, reviewer, incident):
    client = client_for(reviewer)
    data = {"attribution_status": "disputed", "adopted_cause": "access_control", "adopted_cause_rationale": ""}
    refused = client.post(url("evidence-single", incident, "attribution"), data, **HTMX)
    assert refused.status_code == 422
    assert 'id="id_adopted_cause_rationale_error"' in refused.text
    data["adopted_cause_rationale"] = "Amazon's account names the access controls."
    saved = client.post(url("evidence-single", incident, "attribution"), data, **HTMX)
    assert saved.status_code == 200
    assert 'id="evidence-claims"' in saved.text
    assert "account names the access controls" in saved.text
    incident.refresh_from_db()
    assert (incident.attribution_status, incident.adopted_cause) == ("disputed", "access_control")


def test_an_ai_involvement_cites_a_source_for_a_field(client_for, reviewer, incident):
    source = SourceFactory(publisher="The Register")
    incident.sources.add(source)
    client = client_for(reviewer)
    form = client.get(url("evidence-add", incident, "ai"), **HTMX).text
    assert 'name="cite_permissions_inherited"' in form
    data = {
        "agent_name": "Kiro",
        "role": "executor",
        "gate_present": "yes",
        "gate_type": "two_person",
        "gate_bypassed": "yes",
        "permissions_held": "write_prod",
        "permissions_inherited": "yes",
        "reversible": "unknown",
        "cite_permissions_inherited": source.pk,
        "evidence": [source.pk],
    }
    response = client.post(url("evidence-add", incident, "ai"), data, **HTMX)
    assert response.status_code == 200, response.text
    involvement = incident.ai_involvements.get()
    assert involvement.permissions_inherited == TriState.YES
    assert list(AIFieldCitation.objects.values_list("field", "source")) == [("permissions_inherited", source.pk)]
    assert "[The Register]" in response.text
    edit = client.get(url("evidence-item", incident, "ai", involvement), **HTMX).text
    assert f'<option value="{source.pk}" selected>' in edit


def test_impact_figures_are_added_and_a_bad_value_is_named(client_for, reviewer, incident):
    client = client_for(reviewer)
    refused = client.post(
        url("evidence-add", incident, "impact"), {"name": "Lost orders", "value": "lots", "unit": "orders"}, **HTMX
    )
    assert refused.status_code == 422
    assert 'id="id_value_error"' in refused.text
    assert 'value="Lost orders"' in refused.text
    saved = client.post(
        url("evidence-add", incident, "impact"),
        {
            "name": "Lost orders",
            "value": "120000",
            "unit": "orders",
            "is_estimate": "on",
            "as_of_local": "2026-03-05T12:00",
        },
        **HTMX,
    )
    assert saved.status_code == 200
    figure = ImpactFigure.objects.get()
    assert (figure.is_estimate, figure.as_of.isoformat()) == (True, "2026-03-05T12:00:00+00:00")


def test_controls_are_linked(client_for, reviewer, incident):
    wanted, other = ControlFactory(name="Two-person production access"), ControlFactory()
    response = client_for(reviewer).post(
        url("evidence-single", incident, "controls"), {"controls": [wanted.pk]}, **HTMX
    )
    assert response.status_code == 200
    assert list(incident.controls.all()) == [wanted]
    assert "Two-person production access" in response.text
    assert other.name not in response.text


def test_the_ops_review_is_recorded_and_a_missing_date_is_named(client_for, reviewer, incident):
    coe = CoeDocumentFactory(incident=incident)
    client = client_for(reviewer)
    refused = client.post(
        url("evidence-single", incident, "ops-review"),
        {"reviewed_in_ops_meeting": "on", "ops_review_meeting": "Weekly ops"},
        **HTMX,
    )
    assert refused.status_code == 422
    assert 'id="id_ops_review_on_error"' in refused.text
    assert 'value="Weekly ops"' in refused.text
    saved = client.post(
        url("evidence-single", incident, "ops-review"),
        {"reviewed_in_ops_meeting": "on", "ops_review_on": "2026-03-10", "ops_review_meeting": "Weekly ops"},
        **HTMX,
    )
    assert saved.status_code == 200
    assert "Reviewed in <strong>Weekly ops</strong>" in saved.text
    coe.refresh_from_db()
    assert (coe.reviewed_in_ops_meeting, coe.ops_review_on) == (True, date(2026, 3, 10))


def test_the_ops_review_of_an_incident_without_a_coe_is_not_found(client_for, reviewer, incident):
    assert client_for(reviewer).get(url("evidence-single", incident, "ops-review"), **HTMX).status_code == 404


def test_without_javascript_a_form_is_the_whole_page_and_a_save_redirects(client_for, reviewer, incident):
    source = SourceFactory()
    incident.sources.add(source)
    client = client_for(reviewer)
    opened = client.get(url("evidence-add", incident, "claims"))
    assert "<html" in opened.text
    assert "data-evidence-form" in opened.text
    refused = client.post(url("evidence-add", incident, "claims"), {"source": source.pk, "claimant": "Kept"})
    assert refused.status_code == 200
    assert "<html" in refused.text
    assert 'value="Kept"' in refused.text
    saved = client.post(
        url("evidence-add", incident, "claims"),
        {"source": source.pk, "claimant": "FT", "stance": "asserts", "statement": "S"},
    )
    assert saved.status_code == 302
    assert saved.url == f"{incident.get_absolute_url()}#evidence-claims"


def test_cancel_fetches_the_section_closed(client_for, reviewer, incident):
    response = client_for(reviewer).get(url("evidence-section", incident, "attribution"), **HTMX)
    assert response.status_code == 200
    assert 'id="evidence-claims"' in response.text
    assert "data-evidence-form" not in response.text


def test_a_reader_sees_the_sections_without_buttons_and_may_not_write(client_for, leader, incident):
    source = SourceFactory(title="Readable source")
    incident.sources.add(source)
    claim = ClaimFactory(incident=incident, source=source)
    client = client_for(leader)
    page = client.get(incident.get_absolute_url()).text
    assert "Readable source" in page
    assert "Add a source" not in page
    assert "Add a claim" not in page
    assert "/evidence/" not in page
    assert client.get(url("evidence-add", incident, "sources"), **HTMX).status_code == 403
    assert client.post(url("evidence-delete", incident, "claims", claim), **HTMX).status_code == 403
    assert client.post(url("evidence-single", incident, "controls"), {}, **HTMX).status_code == 403
    assert Claim.objects.exists()


def test_a_reviewer_sees_every_sections_buttons(client_for, reviewer, incident):
    CoeDocumentFactory(incident=incident)
    page = client_for(reviewer).get(incident.get_absolute_url()).text
    for button in (
        "Add a source",
        "Add a claim",
        "Edit the attribution and adopted cause",
        "Add an AI involvement record",
        "Add an impact figure",
        "Change the linked controls",
        "Record the operational review",
    ):
        assert button in page


def test_an_outsider_gets_404_for_a_restricted_incident(client_for, outsider, restricted_incident):
    claim = ClaimFactory(incident=restricted_incident)
    figure = ImpactFigure.objects.create(incident=restricted_incident, name="Orders", value=Decimal("1"))
    client = client_for(outsider)
    assert client.get(url("evidence-add", restricted_incident, "claims"), **HTMX).status_code == 404
    assert client.post(url("evidence-delete", restricted_incident, "claims", claim), **HTMX).status_code == 404
    assert client.get(url("evidence-item", restricted_incident, "impact", figure), **HTMX).status_code == 404
    assert client.get(url("evidence-section", restricted_incident, "sources"), **HTMX).status_code == 404
    assert Claim.objects.exists()


def test_a_record_of_another_incident_is_not_found_through_this_one(client_for, reviewer, incident):
    elsewhere = ClaimFactory()
    involvement = AIInvolvementFactory()
    client = client_for(reviewer)
    assert client.post(url("evidence-delete", incident, "claims", elsewhere), **HTMX).status_code == 404
    assert client.get(url("evidence-item", incident, "ai", involvement), **HTMX).status_code == 404
    assert client.get(url("evidence-add", incident, "nonsense"), **HTMX).status_code == 404
