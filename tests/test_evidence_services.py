"""The evidence services: sources linked and unlinked, claims, the adopted cause, AI involvement with
per-field citations, impact figures, controls and the operational review, and what each refuses."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from incidents import figures, history, services
from incidents.models import AIFieldCitation, Claim, ImpactFigure, Source
from incidents.models.vocab import AttributionStatus, PrimaryCause, SourceKind, Stance, TriState

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    CoeDocumentFactory,
    ControlFactory,
    IncidentFactory,
    SourceFactory,
    TimelineEventFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    return IncidentFactory()


@pytest.fixture
def hidden_source(restricted_incident):
    """A source only the restricted incident cites: the outsider must not learn of it."""
    source = SourceFactory(url="https://internal.example.com/leak", title="Build secrets leaked")
    ClaimFactory(incident=restricted_incident, source=source)
    return source


def test_a_new_source_is_recorded_and_linked(reviewer, incident):
    source = services.incident_source_add(
        user=reviewer,
        incident=incident,
        data={"url": "https://vendor.example.com/post", "title": "Post", "publisher": "Vendor", "kind": "press"},
    )
    assert list(incident.sources.all()) == [source]
    assert Source.objects.get(pk=source.pk).publisher == "Vendor"


def test_an_address_already_recorded_is_reused_and_updated_only_with_what_is_given(reviewer, incident):
    known = SourceFactory(url="https://vendor.example.com/post", title="Old title", publisher="Vendor")
    source = services.incident_source_add(
        user=reviewer, incident=incident, data={"url": known.url, "kind": SourceKind.VENDOR_PRIMARY}
    )
    assert source.pk == known.pk
    assert Source.objects.count() == 1
    known.refresh_from_db()
    assert (known.title, known.kind) == ("Old title", SourceKind.VENDOR_PRIMARY)
    assert list(incident.sources.all()) == [known]


def test_a_source_recorded_or_updated_for_an_incident_is_in_its_history_with_its_values(reviewer, incident):
    # The source is saved before its link to the incident exists: its entry must still be the incident's.
    known = SourceFactory(url="https://vendor.example.com/known", kind=SourceKind.PRESS)
    with history.acting_as(reviewer):
        services.incident_source_add(
            user=reviewer,
            incident=incident,
            data={"url": "https://vendor.example.com/post", "title": "Post", "publisher": "Vendor", "kind": "press"},
        )
        services.incident_source_add(
            user=reviewer, incident=incident, data={"url": known.url, "kind": SourceKind.VENDOR_PRIMARY}
        )
    changes = history.describe(list(history.entries_for(incident.pk)))
    by_action = {(c.record_type, c.action): c for c in changes if c.record_type == "source"}
    created = by_action["source", "create"]
    assert (created.actor, created.record) == (reviewer.username, "Vendor: Post")
    assert {f.field: f.after for f in created.fields}["url"] == "https://vendor.example.com/post"
    updated = by_action["source", "update"]
    assert [(f.field, f.before, f.after) for f in updated.fields] == [("kind", "press", "vendor_primary")]


def test_a_new_source_without_a_title_is_refused_naming_the_field(reviewer, incident):
    with pytest.raises(ValidationError) as refused:
        services.incident_source_add(
            user=reviewer, incident=incident, data={"url": "https://a.example.com/", "kind": "press"}
        )
    assert {"title", "publisher"} <= set(refused.value.message_dict)
    assert not Source.objects.exists()
    with pytest.raises(ValidationError) as refused:
        services.incident_source_add(user=reviewer, incident=incident, data={"title": "T"})
    assert "url" in refused.value.message_dict


def test_a_source_hidden_from_the_writer_is_not_linked_nor_changed(outsider, incident, hidden_source):
    with pytest.raises(ValidationError) as refused:
        services.incident_source_add(
            user=outsider, incident=incident, data={"url": hidden_source.url, "title": "Overwritten"}
        )
    assert "url" in refused.value.message_dict
    assert "Build secrets" not in str(refused.value)
    hidden_source.refresh_from_db()
    assert hidden_source.title == "Build secrets leaked"
    assert not incident.sources.exists()


def test_removing_a_source_is_refused_while_the_incident_cites_it(reviewer, incident):
    source = SourceFactory(publisher="The Register")
    incident.sources.add(source)
    ClaimFactory(incident=incident, source=source)
    TimelineEventFactory(incident=incident, source=source)
    TimelineEventFactory(incident=incident, source=source)
    ActionItemFactory(incident=incident, source=source)
    ImpactFigure.objects.create(incident=incident, name="Orders", value=Decimal("1"), source=source)
    AIFieldCitation.objects.create(involvement=AIInvolvementFactory(incident=incident), field="role", source=source)
    with pytest.raises(ValidationError) as refused:
        services.incident_source_remove(user=reviewer, incident=incident, source=source)
    message = refused.value.message_dict["source"][0]
    for named in ("1 claim", "2 timeline events", "1 impact figure", "1 action item", "1 AI field citation"):
        assert named in message
    assert message.startswith("The Register")
    assert incident.sources.filter(pk=source.pk).exists()


def test_removing_an_uncited_source_unlinks_it_and_keeps_the_record(reviewer, incident):
    source = SourceFactory()
    other = IncidentFactory()
    incident.sources.add(source)
    other.sources.add(source)
    # A claim of another incident does not hold this one's link.
    ClaimFactory(incident=other, source=source)
    services.incident_source_remove(user=reviewer, incident=incident, source=source)
    assert not incident.sources.exists()
    assert list(other.sources.all()) == [source]


def test_a_claim_links_its_source_and_tells_the_dashboard(reviewer, incident, django_capture_on_commit_callbacks):
    source = SourceFactory()
    before = cache.get(figures.GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        claim = services.claim_create(
            user=reviewer,
            incident=incident,
            data={
                "source": source,
                "claimant": "FT",
                "stance": Stance.ASSERTS,
                "claimed_cause": PrimaryCause.AUTOMATION_DEFECT,
                "claimed_ai_role": "",
                "statement": "The agent deleted the environment.",
                "quote": None,
            },
        )
    assert cache.get(figures.GENERATION_KEY) != before
    assert list(incident.sources.all()) == [source]
    assert Claim.objects.get(pk=claim.pk).quote == ""


def test_a_claim_update_keeps_what_is_not_given_and_a_new_source_is_linked(reviewer, incident):
    claim = ClaimFactory(incident=incident, claimant="FT")
    newer = SourceFactory()
    services.claim_update(user=reviewer, claim=claim, data={"source": newer, "stance": Stance.CORRECTS})
    claim.refresh_from_db()
    assert (claim.claimant, claim.stance, claim.source) == ("FT", Stance.CORRECTS, newer)
    assert newer in incident.sources.all()


def test_a_claim_is_refused_with_the_fields_named_and_nothing_saved(reviewer, incident):
    with pytest.raises(ValidationError) as refused:
        services.claim_create(
            user=reviewer,
            incident=incident,
            data={"source": SourceFactory(), "claimant": "x" * 201, "stance": "maybe", "statement": ""},
        )
    assert {"claimant", "stance", "statement"} <= set(refused.value.message_dict)
    assert not Claim.objects.exists()
    assert not incident.sources.exists()


def test_a_claim_cannot_cite_a_source_hidden_from_the_writer(outsider, incident, hidden_source):
    with pytest.raises(ValidationError) as refused:
        services.claim_create(
            user=outsider,
            incident=incident,
            data={"source": hidden_source, "claimant": "A", "stance": "asserts", "statement": "S"},
        )
    assert "source" in refused.value.message_dict
    assert not incident.claims.exists()


def test_a_claim_is_deleted(reviewer, incident):
    claim = ClaimFactory(incident=incident)
    services.claim_delete(user=reviewer, claim=claim)
    assert not Claim.objects.exists()


def test_the_adopted_cause_needs_its_rationale(reviewer, incident):
    with pytest.raises(ValidationError) as refused:
        services.attribution_set(
            user=reviewer,
            incident=incident,
            data={"attribution_status": AttributionStatus.DISPUTED, "adopted_cause": PrimaryCause.ACCESS_CONTROL},
        )
    assert "adopted_cause_rationale" in refused.value.message_dict
    incident.refresh_from_db()
    assert incident.adopted_cause == ""
    services.attribution_set(
        user=reviewer,
        incident=incident,
        data={
            "attribution_status": AttributionStatus.DISPUTED,
            "adopted_cause": PrimaryCause.ACCESS_CONTROL,
            "adopted_cause_rationale": "The vendor's account names the permissions.",
            "title": "Not changed here",
        },
    )
    incident.refresh_from_db()
    assert (incident.attribution_status, incident.adopted_cause) == ("disputed", "access_control")
    assert incident.title != "Not changed here"


def test_ai_involvement_cites_a_source_per_field_and_links_it(reviewer, incident):
    report, rebuttal = SourceFactory(), SourceFactory()
    involvement = services.ai_involvement_create(
        user=reviewer,
        incident=incident,
        data={
            "agent_name": "Kiro",
            "role": "executor",
            "permissions_inherited": TriState.YES,
            "vendor": None,
            "citations": {"permissions_inherited": report, "agent_name": rebuttal},
            "evidence": [report],
        },
    )
    assert dict(involvement.citations.values_list("field", "source")) == {
        "permissions_inherited": report.pk,
        "agent_name": rebuttal.pk,
    }
    assert set(incident.sources.all()) == {report, rebuttal}
    assert list(involvement.evidence.all()) == [report]
    services.ai_involvement_update(
        user=reviewer,
        involvement=involvement,
        data={"gate_bypassed": TriState.YES, "citations": {"agent_name": None, "role": report}},
    )
    involvement.refresh_from_db()
    assert involvement.gate_bypassed == TriState.YES
    assert involvement.agent_name == "Kiro"
    assert dict(involvement.citations.values_list("field", "source")) == {
        "permissions_inherited": report.pk,
        "role": report.pk,
    }


def test_ai_involvement_refuses_a_citation_of_a_field_that_takes_none(reviewer, incident):
    with pytest.raises(ValidationError) as refused:
        services.ai_involvement_create(
            user=reviewer,
            incident=incident,
            data={"agent_name": "A", "role": "executor", "citations": {"vendor": SourceFactory()}},
        )
    assert "vendor" in refused.value.message_dict["citations"][0]
    assert not incident.ai_involvements.exists()


def test_ai_involvement_refuses_a_hidden_source_and_a_bad_role(outsider, incident, hidden_source):
    with pytest.raises(ValidationError) as refused:
        services.ai_involvement_create(
            user=outsider,
            incident=incident,
            data={"agent_name": "A", "role": "executor", "citations": {"role": hidden_source}},
        )
    assert "citations" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.ai_involvement_create(user=outsider, incident=incident, data={"agent_name": "A", "role": "boss"})
    assert "role" in refused.value.message_dict
    assert not incident.ai_involvements.exists()


def test_ai_involvement_is_deleted_with_its_citations(reviewer, incident):
    involvement = AIInvolvementFactory(incident=incident)
    AIFieldCitation.objects.create(involvement=involvement, field="role", source=SourceFactory())
    services.ai_involvement_delete(user=reviewer, involvement=involvement)
    assert not AIFieldCitation.objects.exists()
    assert not incident.ai_involvements.exists()


def test_impact_figures_are_created_updated_and_deleted(reviewer, incident):
    source = SourceFactory()
    figure = services.impact_figure_create(
        user=reviewer,
        incident=incident,
        data={
            "name": "Lost orders",
            "value": Decimal("120000"),
            "unit": "orders",
            "is_estimate": True,
            "source": source,
        },
    )
    assert list(incident.sources.all()) == [source]
    services.impact_figure_update(user=reviewer, figure=figure, data={"value": Decimal("1.5"), "unit": None})
    figure.refresh_from_db()
    assert (figure.value, figure.unit, figure.name) == (Decimal("1.5"), "", "Lost orders")
    with pytest.raises(ValidationError) as refused:
        services.impact_figure_update(user=reviewer, figure=figure, data={"value": Decimal("1e30")})
    assert "value" in refused.value.message_dict
    services.impact_figure_delete(user=reviewer, figure=figure)
    assert not ImpactFigure.objects.exists()


def test_controls_are_set_as_a_list(reviewer, incident):
    first, second = ControlFactory(), ControlFactory()
    services.incident_controls_set(user=reviewer, incident=incident, controls=[first, second])
    assert set(incident.controls.all()) == {first, second}
    services.incident_controls_set(user=reviewer, incident=incident, controls=[second])
    assert list(incident.controls.all()) == [second]


def test_the_ops_review_needs_a_date_and_a_meeting_and_is_cleared_when_not_reviewed(reviewer, incident):
    coe = CoeDocumentFactory(incident=incident)
    with pytest.raises(ValidationError) as refused:
        services.ops_review_set(user=reviewer, coe=coe, data={"reviewed_in_ops_meeting": True})
    assert {"ops_review_on", "ops_review_meeting"} <= set(refused.value.message_dict)
    with pytest.raises(ValidationError) as refused:
        services.ops_review_set(
            user=reviewer,
            coe=coe,
            data={"reviewed_in_ops_meeting": True, "ops_review_on": date(2025, 1, 1), "ops_review_meeting": "x" * 201},
        )
    assert "ops_review_meeting" in refused.value.message_dict
    services.ops_review_set(
        user=reviewer,
        coe=coe,
        data={"reviewed_in_ops_meeting": True, "ops_review_on": date(2025, 11, 3), "ops_review_meeting": "Weekly ops"},
    )
    coe.refresh_from_db()
    assert (coe.reviewed_in_ops_meeting, coe.ops_review_on, coe.ops_review_meeting) == (
        True,
        date(2025, 11, 3),
        "Weekly ops",
    )
    services.ops_review_set(user=reviewer, coe=coe, data={"reviewed_in_ops_meeting": False})
    coe.refresh_from_db()
    assert (coe.reviewed_in_ops_meeting, coe.ops_review_on, coe.ops_review_meeting) == (False, None, "")


def test_the_ops_review_leaves_a_concurrent_draft_edit_alone(reviewer, incident):
    coe = CoeDocumentFactory(incident=incident, summary="Old")
    stale = type(coe).objects.get(pk=coe.pk)
    type(coe).objects.filter(pk=coe.pk).update(summary="Newer text", version=2)
    services.ops_review_set(
        user=reviewer,
        coe=stale,
        data={"reviewed_in_ops_meeting": True, "ops_review_on": date(2025, 11, 3), "ops_review_meeting": "Weekly ops"},
    )
    coe.refresh_from_db()
    assert (coe.summary, coe.version, coe.reviewed_in_ops_meeting) == ("Newer text", 2, True)
