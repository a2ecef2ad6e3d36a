"""The change history: every write through the services is on the record, with who made it, when,
and each value before and after; an incident's history is shown on its page and over the API to
those who may see the incident, and to nobody else."""

from __future__ import annotations

import ast
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone

from incidents import services
from incidents.history import HistoryActorMiddleware, acting_as, describe, entries_for
from incidents.models import ApiToken, CoeDocument, Incident, ReviewComment, TimelineEvent
from incidents.models.vocab import ActionStatus, CoeStatus, Severity

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    ClaimFactory,
    CoeDocumentFactory,
    ControlFactory,
    IncidentFactory,
    SourceFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


def latest(model, pk=None) -> LogEntry:
    entries = LogEntry.objects.get_for_model(model)
    if pk is not None:
        entries = entries.filter(object_id=pk)
    return entries.order_by("-timestamp", "-id").first()


def changes(incident) -> list:
    return describe(list(entries_for(incident.pk)))


# --- Every service writes an entry with its actor, before and after -------------------------------


@pytest.fixture
def incident(reviewer):
    return services.incident_create(
        user=reviewer,
        data={"title": "Checkout errors", "severity": Severity.SEV2, "started_at": timezone.now() - timedelta(days=3)},
    )


def test_creating_an_incident_records_its_values_and_author(incident, reviewer):
    entry = latest(Incident, incident.pk)
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == reviewer
    assert entry.changes["title"] == [None, "Checkout errors"]
    assert entry.additional_data == {"incidents": [incident.pk]}
    # Derived and bookkeeping columns are not changes anyone made.
    assert not {"search_vector", "repeat_any", "repeat_public", "updated_at", "created_at"} & set(entry.changes)


def test_updating_an_incident_records_before_and_after(incident, approver):
    services.incident_update(user=approver, incident=incident, data={"severity": Severity.SEV1, "title": "Outage"})
    entry = latest(Incident, incident.pk)
    assert entry.actor == approver
    assert entry.changes["severity"] == ["SEV2", "SEV1"]
    assert entry.changes["title"] == ["Checkout errors", "Outage"]
    assert "summary" not in entry.changes  # unchanged fields are not listed


def test_lists_record_what_was_added_and_removed(incident, reviewer):
    services.incident_update(user=reviewer, incident=incident, data={"services": ["checkout", "payments"]})
    services.incident_update(user=reviewer, incident=incident, data={"services": ["payments"]})
    lists = [c for c in changes(incident) if c.fields and c.fields[0].field == "services"]
    assert [(c.fields[0].added, c.fields[0].removed) for c in lists][:2] == [
        ((), ("checkout",)),
        (("checkout", "payments"), ()),
    ]


def test_contributing_factors_are_recorded_on_the_incident(incident, reviewer):
    services.incident_update(user=reviewer, incident=incident, data={"contributing_factors": ["retry_storm"]})
    services.incident_update(user=reviewer, incident=incident, data={"contributing_factors": []})
    kinds = [(c.record_type, c.action) for c in changes(incident) if c.record_type == "incident factor"]
    assert kinds == [("incident factor", "delete"), ("incident factor", "create")]


def test_timeline_services_record_create_update_and_delete(incident, reviewer):
    with acting_as(reviewer):  # the page's request names the actor (the timeline services take no user)
        event = services.timeline_event_create(
            incident=incident,
            data={"occurred_at": incident.started_at, "kind": "detection", "description": "Alarm fires."},
        )
        services.timeline_event_update(event=event, data={"description": "Alarm fires late."})
        services.timeline_event_delete(event=TimelineEvent.objects.get(pk=event.pk))
    entries = list(LogEntry.objects.get_for_object(event).order_by("id"))
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE, LogEntry.Action.DELETE]
    assert entries[1].changes == {"description": ["Alarm fires.", "Alarm fires late."]}
    assert {e.actor for e in entries} == {reviewer}
    assert all(e.additional_data == {"incidents": [incident.pk]} for e in entries)


def test_evidence_services_are_recorded_with_their_actor(incident, reviewer):
    source = SourceFactory(publisher="The Register")
    claim = services.claim_create(
        user=reviewer,
        incident=incident,
        data={"source": source, "claimant": "FT", "stance": "asserts", "statement": "An agent deleted it."},
    )
    services.claim_update(user=reviewer, claim=claim, data={"stance": "denies"})
    involvement = services.ai_involvement_create(
        user=reviewer,
        incident=incident,
        data={"agent_name": "Kiro", "role": "executor", "citations": {"agent_name": source}, "evidence": [source]},
    )
    figure = services.impact_figure_create(
        user=reviewer, incident=incident, data={"name": "Lost orders", "value": Decimal("120000"), "source": source}
    )
    services.impact_figure_update(user=reviewer, figure=figure, data={"value": Decimal("125000")})
    services.attribution_set(
        user=reviewer,
        incident=incident,
        data={"attribution_status": "disputed", "adopted_cause": "access_control", "adopted_cause_rationale": "Why."},
    )

    assert latest(type(claim), claim.pk).changes == {"stance": ["asserts", "denies"]}
    assert latest(type(figure), figure.pk).changes == {"value": ["120000.00", "125000"]}
    attribution = latest(Incident, incident.pk)
    assert attribution.changes["adopted_cause"] == ["", "access_control"]
    by_type = {c.record_type for c in changes(incident)}
    assert {"claim", "AI involvement", "AI field citation", "impact figure", "incident"} <= by_type
    assert {e.actor for e in entries_for(incident.pk)} == {reviewer}
    # The citation and the evidence list find the incident through the involvement.
    citation = next(c for c in changes(incident) if c.record_type == "AI field citation")
    assert citation.fields[0].field == "field"
    evidence = next(c for c in changes(incident) if any(f.field == "evidence" for f in c.fields))
    assert evidence.fields[0].added == (str(source),)
    assert involvement.pk == evidence.record_id


def test_a_source_change_is_in_the_history_of_every_incident_citing_it(reviewer):
    source = SourceFactory(publisher="Reuters")
    first, second, unrelated = IncidentFactory(), IncidentFactory(), IncidentFactory()
    ClaimFactory(incident=first, source=source)
    TimelineEventFactory(incident=second, source=source)
    services.source_update(source=source, data={"kind": "vendor_primary"})
    entry = latest(type(source), source.pk)
    assert entry.additional_data == {"incidents": sorted([first.pk, second.pk])}
    assert entry.pk in {e.pk for e in entries_for(first.pk)}
    assert entry.pk in {e.pk for e in entries_for(second.pk)}
    assert entry.pk not in {e.pk for e in entries_for(unrelated.pk)}


def test_action_item_services_record_status_and_closer(incident, reviewer, approver):
    item = services.action_item_create(
        user=reviewer, incident=incident, data={"title": "Two-person review", "action_type": "prevent"}
    )
    services.action_item_update(user=approver, item=item, data={"status": ActionStatus.DONE})
    entry = latest(type(item), item.pk)
    assert entry.actor == approver
    assert entry.changes["status"] == ["open", "done"]
    assert entry.changes["completed_by"] == [None, approver.pk]
    shown = describe([entry])[0]
    by_field = {f.field: f for f in shown.fields}
    assert (by_field["status"].before_display, by_field["status"].after_display) == ("Open", "Done")
    assert by_field["completed_by"].after_display == approver.username  # a reference by its name
    services.action_item_delete(item=item)
    assert latest(type(item), item.pk).action == LogEntry.Action.DELETE


def test_the_coe_workflow_is_recorded_step_by_step(incident, reviewer, approver):
    coe = services.coe_start(incident=incident, user=reviewer)
    authors = latest(CoeDocument, coe.pk)
    assert authors.changes["authors"]["objects"] == [reviewer.username]
    coe = services.coe_save(coe=coe, user=reviewer, data={"summary": "It broke."}, base_version=coe.version)
    saved = latest(CoeDocument, coe.pk)
    assert saved.actor == reviewer
    assert saved.changes == {"summary": [incident.summary, "It broke."]}  # the version counter is left out
    CoeDocument.objects.filter(pk=coe.pk).update(status=CoeStatus.IN_REVIEW)  # the quality rules are not tested here
    services.coe_approve(coe=coe, user=approver)
    approved = latest(CoeDocument, coe.pk)
    assert approved.actor == approver
    assert approved.changes["status"] == ["in_review", "approved"]
    assert approved.changes["approver"] == [None, approver.pk]
    services.coe_publish(coe=coe, user=approver)
    services.coe_return_to_draft(coe=coe, user=approver, reason="New facts.")
    reopened = latest(CoeDocument, coe.pk)
    assert reopened.changes["status"] == ["published", "draft"]
    comment = services.review_comment_add(coe=coe, user=approver, section="summary", body="Which service?")
    commented = latest(ReviewComment, comment.pk)
    assert commented.actor == approver
    assert commented.additional_data == {"incidents": [incident.pk]}


def test_a_conflicting_coe_save_records_nothing(incident, reviewer):
    coe = services.coe_start(incident=incident, user=reviewer)
    services.coe_save(coe=coe, user=reviewer, data={"summary": "First."}, base_version=coe.version)
    before = LogEntry.objects.count()
    with pytest.raises(services.ConflictError):
        services.coe_save(coe=coe, user=reviewer, data={"summary": "Stale."}, base_version=1)
    assert LogEntry.objects.count() == before


def test_controls_linked_from_the_incident_are_on_its_record(incident, reviewer):
    control = ControlFactory(name="Two-person production access")
    services.incident_controls_set(user=reviewer, incident=incident, controls=[control])
    linked = describe([latest(Incident, incident.pk)])[0]
    assert (linked.fields[0].label, linked.fields[0].added) == ("controls", (control.name,))


def test_the_innermost_actor_wins_and_the_outer_one_comes_back(reviewer, approver):
    incident = IncidentFactory()
    with acting_as(reviewer):
        services.incident_update(user=approver, incident=incident, data={"title": "By the approver"})
        services.source_create(data={"url": "https://example.com/a", "title": "A", "publisher": "P", "kind": "press"})
    assert latest(Incident, incident.pk).actor == approver
    source_entry = LogEntry.objects.get_for_model(SourceFactory._meta.model).latest("id")
    assert source_entry.actor == reviewer


def test_outside_any_service_or_request_nobody_is_named():
    incident = IncidentFactory()
    assert latest(Incident, incident.pk).actor is None


# --- The one limit: writes that bypass save() are not recorded ------------------------------------


def _tracked_names() -> tuple[set[str], set[str]]:
    """The tracked models' class names, and the names their related managers go by."""
    models = auditlog.get_models()
    related = set()
    for model in models:
        for field in model._meta.get_fields():
            if field.is_relation and (field.one_to_many or field.many_to_many):
                related.add(field.get_accessor_name() if field.auto_created else field.name)
    return {model.__name__ for model in models}, related


def _chain_names(node) -> list[str]:
    names = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names
        else:
            return names


def test_no_service_writes_a_tracked_model_around_save():
    """auditlog records save(), delete() and list changes; a queryset update(), bulk_update() or
    bulk_create() would change a tracked record with no entry, and a list's clear() is recorded as the
    removal of every row of the related table. Services must not use them."""
    models, managers = _tracked_names()
    offenders = []
    for path in sorted(Path("incidents/services").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("update", "bulk_update", "bulk_create", "clear")
            ):
                continue
            chain = _chain_names(node.func.value)
            if (chain and chain[-1] in models) or managers & set(chain):
                offenders.append(f"{path}:{node.lineno} .{node.func.attr}() on {'.'.join(reversed(chain))}")
    assert offenders == []


def test_the_check_catches_a_queryset_update():
    models, managers = _tracked_names()
    call = ast.parse("CoeDocument.objects.filter(pk=1).update(status='draft')").body[0].value
    assert _chain_names(call.func.value)[-1] in models
    call = ast.parse("incident.timeline.filter(kind='start').update(description='x')").body[0].value
    assert managers & set(_chain_names(call.func.value))
    call = ast.parse("data.update(extra)").body[0].value
    chain = _chain_names(call.func.value)
    assert chain[-1] not in models
    assert not managers & set(chain)


# --- Who: a session, a token, the middleware ------------------------------------------------------


def test_a_page_write_records_the_signed_in_user(client_for, reviewer):
    """The impact figure's service names its user; this checks the request's user reaches it."""
    incident = IncidentFactory()
    response = client_for(reviewer).post(
        f"/incidents/{incident.key}/evidence/impact/new/", {"name": "Lost orders", "value": "120000"}
    )
    assert response.status_code in (200, 302), response.content
    figure = incident.impact_figures.get()
    assert latest(type(figure), figure.pk).actor == reviewer


def test_an_api_write_with_a_token_records_the_tokens_user(reviewer):
    incident = IncidentFactory(owner=reviewer)
    item = ActionItemFactory(incident=incident, status=ActionStatus.OPEN)
    _, plain = ApiToken.issue(user=reviewer, name="tool", scope="write")
    client = Client(headers={"Authorization": f"Bearer {plain}"})
    etag = client.get(f"{API}/action-items/{item.pk}/")["ETag"]
    response = client.patch(
        f"{API}/action-items/{item.pk}/",
        json.dumps({"title": "Renamed by a tool"}),
        content_type="application/json",
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.content
    entry = latest(type(item), item.pk)
    assert entry.actor == reviewer
    assert entry.changes["title"][1] == "Renamed by a tool"


def test_the_middleware_reads_the_user_when_the_entry_is_written(reviewer):
    """A bearer token is authenticated inside the view, after every middleware ran: the user
    must be read when the change is saved, not when the request arrives."""
    incident = IncidentFactory()

    def view(request):
        request.user = reviewer  # what DRF does once the token is checked
        incident.title = "Changed in the view"
        incident.save()
        return "done"

    request = RequestFactory().get("/")
    assert HistoryActorMiddleware(view)(request) == "done"
    assert latest(Incident, incident.pk).actor == reviewer


# --- Reading: the page and the API ----------------------------------------------------------------


def test_the_history_page_shows_who_when_which_record_and_labels(client_for, reviewer, incident):
    owner = UserFactory(username="omar")
    services.incident_update(
        user=reviewer, incident=incident, data={"severity": Severity.SEV1, "owner": owner, "restricted": False}
    )
    page = client_for(reviewer).get(f"/incidents/{incident.key}/history/", headers={"HX-Request": "true"})
    assert page.status_code == 200
    html = page.text
    assert 'id="history-panel"' in html
    assert "<html" not in html  # the panel alone, for htmx
    assert "rita" in html
    assert "Severity" in html
    assert dict(Severity.choices)["SEV1"] in html  # a choice by its label
    assert "omar" in html  # the owner by name, not by id
    whole = client_for(reviewer).get(f"/incidents/{incident.key}/history/")
    assert "<html" in whole.text  # a link followed without JavaScript
    assert 'id="history-panel"' in whole.text


def test_the_incident_page_loads_its_history_with_htmx(client_for, reviewer, incident):
    page = client_for(reviewer).get(f"/incidents/{incident.key}/")
    assert f'hx-get="/incidents/{incident.key}/history/"' in page.text
    assert 'id="h-history"' in page.text


def test_changes_after_publication_are_marked(client_for, reviewer, approver, incident):
    coe = CoeDocumentFactory(incident=incident, status=CoeStatus.PUBLISHED, published_at=timezone.now())
    before = entries_for(incident.pk).update(timestamp=coe.published_at - timedelta(minutes=1))
    assert before
    services.incident_update(user=approver, incident=incident, data={"title": "Corrected later"})
    marked = [c.after_publication for c in describe(list(entries_for(incident.pk)), published_at=coe.published_at)]
    assert marked[0] is True
    assert marked[-1] is False  # everything before publication is unmarked
    html = client_for(reviewer).get(f"/incidents/{incident.key}/history/").text
    assert html.count("after publication</span>") == marked.count(True)
    body = Client()
    body.force_login(reviewer)
    rows = body.get(f"{API}/incidents/{incident.key}/history/").json()["results"]
    assert [row["after_publication"] for row in rows] == marked


def test_the_publication_itself_is_not_marked_after_publication(incident, reviewer, approver):
    coe = services.coe_start(incident=incident, user=reviewer)
    CoeDocument.objects.filter(pk=coe.pk).update(status=CoeStatus.APPROVED, approver=approver)
    coe.refresh_from_db()
    services.coe_publish(coe=coe, user=approver)
    services.incident_update(user=approver, incident=incident, data={"title": "Corrected later"})
    coe.refresh_from_db()
    newest = describe(list(entries_for(incident.pk)[:2]), published_at=coe.published_at)
    assert [(c.record_type, c.after_publication) for c in newest] == [("incident", True), ("COE document", False)]


def test_the_page_is_paginated(client_for, reviewer, incident):
    for number in range(30):
        services.incident_update(user=reviewer, incident=incident, data={"title": f"Title {number}"})
    client = client_for(reviewer)
    first = client.get(f"/incidents/{incident.key}/history/", headers={"HX-Request": "true"}).text
    assert "Title 29" in first
    assert "Older changes" in first
    assert "Checkout errors" not in first
    second = client.get(f"/incidents/{incident.key}/history/?page=2", headers={"HX-Request": "true"}).text
    assert "Checkout errors" in second
    assert "Newer changes" in second


def test_the_api_answers_every_field_with_its_author(reviewer, incident):
    services.incident_update(user=reviewer, incident=incident, data={"severity": Severity.SEV1})
    _, plain = ApiToken.issue(user=reviewer, name="reader", scope="read")
    client = Client(headers={"Authorization": f"Bearer {plain}"})
    response = client.get(f"{API}/incidents/{incident.key}/history/")
    assert response.status_code == 200
    newest = response.json()["results"][0]
    assert newest["actor"] == "rita"
    assert newest["action"] == "update"
    assert newest["record_type"] == "incident"
    assert newest["record_id"] == incident.pk
    severity = next(change for change in newest["changes"] if change["field"] == "severity")
    assert (severity["before"], severity["after"]) == ("SEV2", "SEV1")
    assert severity["after_display"] == dict(Severity.choices)["SEV1"]
    assert severity["label"] == "severity"


def test_the_api_pages_with_a_cursor(reviewer, incident):
    for number in range(4):
        services.incident_update(user=reviewer, incident=incident, data={"title": f"Title {number}"})
    client = Client()
    client.force_login(reviewer)
    first = client.get(f"{API}/incidents/{incident.key}/history/?page_size=3").json()
    second = client.get(first["next"]).json()
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert (
        len(seen)
        == len(set(seen))
        == LogEntry.objects.filter(additional_data__incidents__contains=[incident.pk]).count()
    )
    assert client.get(f"{API}/incidents/{incident.key}/history/?since=1").status_code == 400  # an unknown parameter


# --- Visibility -----------------------------------------------------------------------------------


def test_a_hidden_incident_has_no_history_for_outsiders(client_for, outsider, reviewer, restricted_incident):
    services.incident_update(user=reviewer, incident=restricted_incident, data={"title": "SECRET renamed"})
    page = client_for(outsider).get(f"/incidents/{restricted_incident.key}/history/")
    assert page.status_code == 404
    _, plain = ApiToken.issue(user=outsider, name="tool", scope="read")
    api = Client(headers={"Authorization": f"Bearer {plain}"})
    assert api.get(f"{API}/incidents/{restricted_incident.key}/history/").status_code == 404
    assert api.get(f"{API}/incidents/NO-SUCH-KEY/history/").status_code == 404
    # Its members see it.
    assert client_for(reviewer).get(f"/incidents/{restricted_incident.key}/history/").status_code == 200


def test_a_hidden_incidents_entries_never_appear_in_another_history(
    client_for, outsider, reviewer, restricted_incident
):
    public = IncidentFactory(title="Public outage")
    shared = SourceFactory(title="Shared report")
    ClaimFactory(incident=public, source=shared)
    services.incident_update(user=reviewer, incident=restricted_incident, data={"title": "SECRET renamed"})
    services.claim_create(
        user=reviewer,
        incident=restricted_incident,
        data={"source": shared, "claimant": "SECRET insider", "stance": "asserts", "statement": "SECRET cause."},
    )
    page = client_for(outsider).get(f"/incidents/{public.key}/history/").text
    api = client_for(outsider).get(f"{API}/incidents/{public.key}/history/").text
    for text in (page, api):
        assert "Public outage" in text
        assert "SECRET" not in text
        assert restricted_incident.key not in text


# --- Cost ------------------------------------------------------------------------------------------


def test_the_history_view_query_count_does_not_grow_with_the_entries(
    client_for, reviewer, approver, incident, django_assert_num_queries
):
    source = SourceFactory()
    client = client_for(reviewer)
    url = f"/incidents/{incident.key}/history/"

    def grow():
        figure = services.impact_figure_create(
            user=reviewer, incident=incident, data={"name": "Orders", "value": 1, "source": source}
        )
        services.incident_update(user=approver, incident=incident, data={"owner": approver, "services": ["api"]})
        services.impact_figure_update(user=reviewer, figure=figure, data={"value": 2})

    grow()
    client.get(url)  # the session and content types are warm from here on
    for _ in range(2):
        # 1 the session, 2 the signed-in user, 3 the incident if visible (with its COE's publication time),
        # 4 the count of its entries, 5 the page of entries with their actors and content types,
        # 6 the users and 7 the sources the page's changes refer to, fetched by name once each.
        with django_assert_num_queries(7):
            assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
        grow()


def test_an_incidents_history_is_read_through_its_index(incident):
    sql, params = entries_for(incident.pk).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "logentry_incidents_gin" in plan


def test_every_tracked_model_names_its_incidents(incident, reviewer):
    """A record added to the history without a way to its incident would be recorded but never shown."""
    for model in auditlog.get_models():
        assert callable(getattr(model, "get_additional_data", None)), model
    ai = AIInvolvementFactory(incident=incident)
    assert ai.get_additional_data() == {"incidents": [incident.pk]}


def test_the_history_api_query_count_does_not_grow_with_the_entries(
    reviewer, approver, incident, django_assert_num_queries
):
    source = SourceFactory()
    client = Client()
    client.force_login(reviewer)
    url = f"{API}/incidents/{incident.key}/history/"

    def grow():
        figure = services.impact_figure_create(
            user=reviewer, incident=incident, data={"name": "Orders", "value": 1, "source": source}
        )
        services.incident_update(user=approver, incident=incident, data={"owner": approver})
        services.impact_figure_update(user=reviewer, figure=figure, data={"value": 2})

    grow()
    client.get(url)
    for _ in range(2):
        # 1 the session, 2 the signed-in user, 3 the incident if visible (with its COE's publication time),
        # 4 a page of entries with their actors and content types (a cursor: no count),
        # 5 the users and 6 the sources the page's changes refer to.
        with django_assert_num_queries(6):
            assert client.get(url).status_code == 200
        grow()
