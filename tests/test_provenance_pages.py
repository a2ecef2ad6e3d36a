"""Reported facts, our readings and demo workflow states, told apart on the pages and in the export.

Every timeline event, impact figure, action item and control names the source that reported it or
carries a label saying it is ours; a demo incident's COE approval and action item progress are
labelled as a demo's; times show only the precision they are known to; the AI panel cites a source
per field or says "our reading"; harm level "none" says what it means.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pytest_django.asserts import assertInHTML

from incidents import services
from incidents.models import AIFieldCitation, ImpactFigure, TimelineEvent
from incidents.models import vocab as v

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

DEMO_MARK = '<span class="badge badge-demo" title="Made by demo users, not the company">Demo workflow</span>'
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def vendor():
    return SourceFactory(url="https://aws.example.com/statement", publisher="AWS", kind=v.SourceKind.VENDOR_PRIMARY)


@pytest.fixture
def press():
    return SourceFactory(url="https://ft.example.com/story", publisher="FT")


def _incident(**kwargs):
    # Overdue items are judged against today: a due date long past.
    return IncidentFactory(title="Cost Explorer interrupted", **kwargs)


def _reported_and_ours(incident, vendor, press):
    TimelineEventFactory(incident=incident, description="Errors begin.", source=vendor)
    TimelineEventFactory(
        incident=incident,
        kind=v.TimelineKind.CAUSE_IDENTIFIED,
        occurred_at=incident.started_at.replace(hour=8),
        description="The role held write access.",
        source=press,
        basis=v.Basis.READING,
    )
    ImpactFigure.objects.create(incident=incident, name="Reports", value=Decimal("6500000"), source=press)
    ImpactFigure.objects.create(incident=incident, name="Regions", value=Decimal("1"), basis=v.Basis.CLASSIFICATION)
    reported = ActionItemFactory(incident=incident, title="Peer review for production access", source=vendor)
    ours = ActionItemFactory(incident=incident, title="Gate agent deletes", basis=v.Basis.PROPOSAL)
    control = ControlFactory(name="Senior sign-off", basis=v.Basis.REPORTED)
    control.sources.add(press)
    incident.controls.add(control, ControlFactory(name="Two-person rule", basis=v.Basis.PROPOSAL))
    return reported, ours


def test_every_record_on_the_incident_page_is_reported_by_its_source_or_labelled_ours(
    client_for, leader, vendor, press
):
    incident = _incident()
    _reported_and_ours(incident, vendor, press)
    page = client_for(leader).get(incident.get_absolute_url()).text

    def reported_by(source):
        return (
            f'<span class="basis basis-reported">Reported by '
            f'<a href="{source.url}" rel="noopener noreferrer">{source.publisher}</a></span>'
        )

    # The timeline: one reported by AWS, one our reading of the FT's story.
    assertInHTML(reported_by(vendor), page, count=2)  # the start event and the reported action item
    assertInHTML(
        '<span class="basis basis-ours"><span class="badge badge-ours">Our reading</span> from '
        f'<a href="{press.url}" rel="noopener noreferrer">FT</a></span>',
        page,
    )
    # Impact figures: the FT's count, and our classification with no source.
    assertInHTML(reported_by(press), page, count=2)  # the count and the control it reported
    assertInHTML('<span class="basis basis-ours"><span class="badge badge-ours">Our classification</span></span>', page)
    # Action items and controls: our proposals are labelled as such.
    ours = '<span class="basis basis-ours"><span class="badge badge-ours">Our proposal</span></span>'
    assertInHTML(ours, page, count=2)


def test_a_demo_incidents_action_items_and_approval_are_labelled_demo_and_a_real_ones_are_not(
    client_for, leader, approver, vendor
):
    demo, real = _incident(demo=True), _incident()
    for incident in (demo, real):
        ActionItemFactory(incident=incident, source=vendor, due_date=date(2026, 1, 31), status=v.ActionStatus.OPEN)
        CoeDocumentFactory(incident=incident, status=v.CoeStatus.PUBLISHED, approver=approver)
    demo_page = client_for(leader).get(demo.get_absolute_url()).text
    real_page = client_for(leader).get(real.get_absolute_url()).text

    # The note at the top; marks beside the COE's approval, the item's overdue badge and its status.
    assert 'data-testid="demo-note"' in demo_page
    assertInHTML(DEMO_MARK, demo_page, count=3)
    assert "badge-demo" not in real_page
    assert "demo-note" not in real_page
    # The real incident's overdue item is still overdue, just not a demo's.
    assertInHTML('<span class="badge badge-disputed">overdue</span>', real_page)


def test_the_action_item_page_marks_a_demo_items_status(client_for, leader, vendor):
    demo_item = ActionItemFactory(incident=_incident(demo=True), source=vendor, status=v.ActionStatus.IN_PROGRESS)
    real_item = ActionItemFactory(incident=_incident(), source=vendor, status=v.ActionStatus.IN_PROGRESS)
    pages = {
        item: client_for(leader).get(f"/incidents/{item.incident.key}/actions/{item.pk}/").text
        for item in (demo_item, real_item)
    }
    assert pages[demo_item].count("Demo workflow") >= 2  # the note and the status
    assert "Demo workflow" not in pages[real_item]
    for page in pages.values():
        assert "Reported by" in page
        assert 'href="https://aws.example.com/statement"' in page


def test_the_coe_page_and_its_markdown_export_say_whose_each_item_is(client_for, leader, approver, vendor, press):
    incident = _incident(demo=True)
    _reported_and_ours(incident, vendor, press)
    CoeDocumentFactory(incident=incident, status=v.CoeStatus.PUBLISHED, approver=approver)
    client = client_for(leader)

    page = client.get(f"/incidents/{incident.key}/coe/").text
    assert 'data-testid="demo-note"' in page
    assertInHTML('<span class="basis basis-ours"><span class="badge badge-ours">Our proposal</span></span>', page)
    assert "Reported by" in page

    export = client.get(f"/incidents/{incident.key}/coe/export.md").content.decode()
    assert "- Demo workflow: Demo data." in export
    assert "| Action | Basis | Type |" in export
    assert "| Peer review for production access | Reported by AWS |" in export
    assert "| Gate agent deletes | Our proposal |" in export
    assert "| Our reading (from FT) |" in export  # the timeline's reading, with the story it reads
    assert "Open (Demo workflow)" in export


def test_the_evidence_and_timeline_forms_set_the_basis(client_for, reviewer, press):
    incident = _incident(owner=reviewer)
    incident.sources.add(press)
    client = client_for(reviewer)
    added = client.post(
        f"/incidents/{incident.key}/evidence/impact/new/",
        {"name": "Reports", "value": "16000000", "unit": "reports", "source": press.pk, "basis": "reading"},
        **HTMX,
    )
    assert added.status_code == 200
    assert ImpactFigure.objects.get(incident=incident).basis == v.Basis.READING
    refused = client.post(
        f"/incidents/{incident.key}/evidence/impact/new/", {"name": "X", "value": "1", "basis": "gossip"}, **HTMX
    )
    assert refused.status_code == 422
    assert 'id="id_basis_error"' in refused.text
    assert ImpactFigure.objects.filter(incident=incident).count() == 1

    event = TimelineEventFactory(incident=incident, kind=v.TimelineKind.ENGAGEMENT, source=press)
    saved = client.post(
        f"/incidents/{incident.key}/timeline/{event.pk}/",
        {
            "occurred_local": "2025-10-20T07:30",
            "display_tz": "UTC",
            "precision": "minute",
            "kind": "engagement",
            "actor_kind": "unknown",
            "description": "Engineers engaged.",
            "source": press.pk,
            "basis": "classification",
        },
    )
    assert saved.status_code == 302
    assert TimelineEvent.objects.get(pk=event.pk).basis == v.Basis.CLASSIFICATION


def test_a_form_posted_without_a_basis_keeps_the_records(client_for, reviewer, press):
    incident = _incident(owner=reviewer)
    incident.sources.add(press)
    figure = ImpactFigure.objects.create(
        incident=incident, name="Reports", value=Decimal("1"), source=press, basis=v.Basis.READING
    )
    response = client_for(reviewer).post(
        f"/incidents/{incident.key}/evidence/impact/{figure.pk}/",
        {"name": "Reports", "value": "2", "source": press.pk},
        **HTMX,
    )
    assert response.status_code == 200
    figure.refresh_from_db()
    assert (figure.value, figure.basis) == (Decimal("2"), v.Basis.READING)


def test_times_known_to_the_day_month_or_quarter_show_no_clock_time(client_for, leader, press):
    incident = _incident(
        started_at=datetime(2025, 12, 15, 12, 0, tzinfo=UTC),
        time_precision=v.TimePrecision.DAY,
        detected_at=None,
        mitigated_at=None,
        resolved_at=datetime(2026, 1, 1, tzinfo=UTC),
        resolved_precision=v.TimePrecision.QUARTER,
    )
    event = TimelineEventFactory(
        incident=incident,
        occurred_at=datetime(2025, 12, 1, tzinfo=UTC),
        precision=v.TimePrecision.MONTH,
        kind=v.TimelineKind.START,
        source=press,
    )
    page = client_for(leader).get(incident.get_absolute_url()).text
    assert '<time datetime="2025-12-15" data-precision="day">2025-12-15</time>' in page
    assert '<time datetime="2026-01" data-precision="quarter">Q1 2026</time>' in page
    assert '<time datetime="2025-12" data-precision="month">December 2025</time>' in page
    assert "12:00" not in page
    assert "00:00" not in page
    # The change history names an event the same way.
    assert str(event) == "December 2025 Impact starts"


def test_the_ai_panel_cites_a_source_per_field_and_calls_an_uncited_one_our_reading(client_for, leader, vendor):
    incident = _incident()
    ai = AIInvolvementFactory(incident=incident, agent_name="Kiro", role=v.AIRole.EXECUTOR)
    AIFieldCitation.objects.create(involvement=ai, field="role", source=vendor)
    page = client_for(leader).get(incident.get_absolute_url()).text
    role, autonomy, reversible = (
        page.split("<dt>Role</dt>")[1].split("</dd>")[0],
        page.split("<dt>Autonomy</dt>")[1].split("</dd>")[0],
        page.split("<dt>Reversible</dt>")[1].split("</dd>")[0],
    )
    assert "[AWS]" in role
    assert "our reading" not in role
    assert '<span class="badge badge-ours">our reading</span>' in autonomy  # L4, cited by nobody
    assert "our reading" not in reversible
    assert "[" not in reversible


def test_with_no_ai_record_the_panel_says_when_the_sources_disagree(client_for, leader, press):
    quiet, disputed = _incident(), _incident()
    ClaimFactory(incident=disputed, source=press, claimed_ai_role=v.ClaimedAIRole.CODE_AUTHOR)
    ClaimFactory(incident=quiet, source=press, claimed_ai_role=v.ClaimedAIRole.NONE)
    client = client_for(leader)
    quiet_page, disputed_page = (client.get(i.get_absolute_url()).text for i in (quiet, disputed))
    assert "No AI agent was involved, as far as the sources say." in quiet_page
    assert 'data-testid="ai-disputed"' not in quiet_page
    assert "No AI agent was involved" not in disputed_page
    assert "the sources disagree" in disputed_page


def test_harm_level_none_reads_as_no_ai_harm_on_the_page_and_in_the_form(client_for, reviewer):
    incident = _incident(harm_level=v.HarmLevel.NONE, owner=reviewer)
    client = client_for(reviewer)
    page = client.get(incident.get_absolute_url()).text
    assert "<dt>Harm level</dt><dd>No AI harm (CSET: none)</dd>" in page
    # The classification as a whole is ours, said above it.
    assert '<span class="badge badge-ours">Our classification</span> of what the sources report' in page
    form = client.get(f"/incidents/{incident.key}/edit/").text
    assert '<option value="none" selected>No AI harm (CSET: none)</option>' in form


def test_our_reading_in_seeded_text_is_labelled_with_its_words_unchanged(client_for, leader):
    incident = _incident(
        summary="Cost Explorer was down for 13 hours (FT). Our reading: no customer count is given.",
        trigger_text="An agent <b>deleted</b> it (FT). Our reading: a gate was missing.",
    )
    page = client_for(leader).get(incident.get_absolute_url()).text
    # Plain text (the trigger) is escaped, then its marker labelled.
    assert (
        'An agent &lt;b&gt;deleted&lt;/b&gt; it (FT). <span class="badge badge-ours">Our reading:</span> '
        "a gate was missing." in page
    )
    assert (
        'Cost Explorer was down for 13 hours (FT). <span class="badge badge-ours">Our reading:</span> '
        "no customer count is given." in page
    )


def test_the_coe_editor_offers_each_action_items_basis(client_for, reviewer):
    incident = _incident(owner=reviewer)
    services.coe_start(incident=incident, user=reviewer)
    ActionItemFactory(incident=incident, title="Gate agent deletes", owner=reviewer, basis=v.Basis.PROPOSAL)
    editor = client_for(reviewer).get(f"/incidents/{incident.key}/coe/").text
    assert '<select name="items-0-basis"' in editor
    assert '<option value="proposal" selected>Our proposal</option>' in editor


def test_the_history_shows_a_time_known_to_the_day_as_a_date(client_for, reviewer):
    incident = services.incident_create(
        user=reviewer,
        data={
            "title": "Cost Explorer interrupted",
            "severity": v.Severity.SEV2,
            "started_at": datetime(2025, 12, 15, tzinfo=UTC),
            "time_precision": v.TimePrecision.DAY,
        },
    )
    page = client_for(reviewer).get(f"/incidents/{incident.key}/history/").text
    assert "2025-12-15" in page  # the incident's start, and its start event's time
    assert "2025-12-15 00:00" not in page


def test_the_dashboards_overdue_items_of_a_demo_incident_say_so(client_for, leader):
    demo_item = ActionItemFactory(incident=_incident(demo=True), title="Seeded follow-up", due_date=date(2026, 1, 31))
    real_item = ActionItemFactory(incident=_incident(), title="Our follow-up", due_date=date(2026, 1, 30))
    page = client_for(leader).get("/dashboard/").text
    table = page.split('id="fig-oldest_overdue"')[1].split("</table>")[0]
    demo_row, real_row = (table.split(item.title)[1].split("</tr>")[0] for item in (demo_item, real_item))
    assert "(Demo workflow)</td>" in demo_row
    assert "Demo workflow" not in real_row
