"""What the MCP tools and resources read, as plain data, always as the token's user.

Every read starts from Incident.objects.visible_to(user) (or a row's incident in it): a restricted incident
outside the user's group never reaches an agent, in any list, count, snippet or control. The searches are
the site's own (incidents/search.py ranks; incidents/filters.py filters), so an agent finds what a person
would on /search/ and /incidents/.
"""

from __future__ import annotations

import html
from datetime import date
from types import SimpleNamespace

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window, prefetch_related_objects
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.urls import reverse

from incidents import search
from incidents.filters import ActionItemFilter, IncidentFilter
from incidents.models import ActionItem, CoeDocument, Control, Incident, Service, Source
from incidents.models.vocab import CoeStatus, ControlStatus
from incidents.selectors import incident_detail_queryset
from incidents.templatetags.times import event_time_text, incident_time_text

# COEs an agent may read as lessons: reviewed and signed off by a second person.
READABLE_COE = (CoeStatus.APPROVED, CoeStatus.PUBLISHED)
LED_TO_BY = 5  # incidents named per control
RESOURCES_LISTED = 100  # the latest published COEs; older ones are read by key (coe://{key}, get_coe)
MILESTONES = ("started", "detected", "mitigated", "resolved")
SERVICES_NAMED = 40


class Refused(Exception):
    """A question answered with a reason instead of data: an incident the user may not see (told apart
    from one that does not exist in no way), a filter value that names nothing, a COE not yet approved."""


def _visible(user) -> QuerySet[Incident]:
    return Incident.objects.visible_to(user)


def plain_snippet(snippet: str) -> str:
    """A search snippet (escaped HTML with <mark>) as plain text, the matched words in **bold**."""
    return html.unescape(str(snippet).replace("<mark>", "**").replace("</mark>", "**"))


def unknown_service(user, name: str = "") -> str:
    """The refusal of a service name, with the names the user may use (the first SERVICES_NAMED of them: a
    knowledge base of thousands of services would otherwise answer with all of them)."""
    names = list(Service.objects.visible_to(user).values_list("name", flat=True)[: SERVICES_NAMED + 1])
    listed = ", ".join(names[:SERVICES_NAMED]) + (", …" if len(names) > SERVICES_NAMED else "")
    named = f" {name!r}" if name else " by that name"
    return f"No service{named} among the incidents you may see. Services: {listed}."


def _refuse_filter(user, errors) -> Refused:
    """IncidentFilter's errors as one sentence; an unknown service lists the ones the user may name."""
    parts = []
    for name, messages in errors.items():
        text = " ".join(str(m) for m in messages)
        if name == "service":
            text = unknown_service(user)
        parts.append(f"{name}: {text}")
    return Refused("; ".join(parts))


def incident_row(incident: Incident) -> dict:
    return {
        "key": incident.key,
        "title": incident.title,
        "started": incident_time_text(incident, "started"),
        "severity": incident.severity,
        "status": incident.status,
        "cause": incident.primary_cause,
        "ai_involved": incident.has_ai,  # with_ai_flag()
        "services": [service.name for service in incident.services.all()],
        "url": reverse("incidents:detail", args=[incident.key]),
    }


def search_incidents(
    user,
    *,
    query: str | None,
    service: str | None,
    cause: str | None,
    ai_involved: bool | None,
    started_after: date | None,
    started_before: date | None,
    limit: int,
) -> dict:
    filters = IncidentFilter(
        {
            "service": service or "",
            "primary_cause": [cause] if cause else [],
            "ai_involved": "" if ai_involved is None else str(ai_involved).lower(),
            "started_after": started_after.isoformat() if started_after else "",
            "started_before": started_before.isoformat() if started_before else "",
        },
        queryset=_visible(user),
        request=SimpleNamespace(user=user),
    )
    if not filters.is_valid():
        raise _refuse_filter(user, filters.errors)
    if query:
        found = search.search(user, query, among=filters.qs)
        prefetch_related_objects([result.incident for result in found.results[:limit]], "services")
        rows = []
        for result in found.results[:limit]:
            row = incident_row(result.incident)
            row["snippet"] = plain_snippet(result.snippet)
            row["matches"] = [{"where": hit.label, "snippet": plain_snippet(hit.snippet)} for hit in result.hits]
            rows.append(row)
        # A query matching most of a large knowledge base is ranked among the latest incidents only: say so.
        return {"query": found.text, "total": found.total, "searched_latest": found.latest, "incidents": rows}
    incidents = filters.qs
    total = incidents.count()
    page = incidents.with_ai_flag().prefetch_related("services").order_by("-started_at", "-id")[:limit]
    return {"query": "", "total": total, "incidents": [incident_row(incident) for incident in page]}


def _incident_for(user, key: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    queryset = (queryset if queryset is not None else _visible(user)).filter(key=key.strip().upper())
    incident = queryset.first()
    if incident is None:
        raise Refused(f"No incident {key} that you may see. Find keys with search_incidents.")
    return incident


def _coe_status(incident: Incident) -> str | None:
    try:
        return incident.coe.status
    except Incident.coe.RelatedObjectDoesNotExist:
        return None


def visible_controls(user) -> QuerySet[Control]:
    """Controls with an incident the user may see, or with none (a mandate of everyone's): a control that
    only restricted incidents led to would tell of them by its name. Checked per control against the few
    incidents hidden from the user, not by joining every visible one."""
    links = Control.incidents.through.objects.filter(control=OuterRef("pk"))
    shown = links.exclude(incident__in=Incident.objects.hidden_from(user))
    return Control.objects.filter(Exists(shown) | ~Exists(links))


def led_to_by(user, control_ids: list[int]) -> dict[int, tuple[list[dict], int]]:
    """For each control, the earliest LED_TO_BY incidents the user may see that led to it, and how many do:
    one query (a control can follow thousands of incidents)."""
    by_control = F("control_id")
    links = (
        Control.incidents.through.objects.filter(control_id__in=control_ids)
        .exclude(incident__in=Incident.objects.hidden_from(user))
        .annotate(
            n=Window(RowNumber(), partition_by=[by_control], order_by=[F("incident__started_at"), F("incident_id")]),
            total=Window(Count("id"), partition_by=[by_control]),
        )
        .filter(n__lte=LED_TO_BY)
        .order_by("control_id", "n")
        .values_list("control_id", "incident__key", "incident__title", "total")
    )
    found: dict[int, tuple[list[dict], int]] = {}
    for control_id, key, title, total in links:
        found.setdefault(control_id, ([], total))[0].append({"key": key, "title": title})
    return found


def get_incident(user, *, key: str) -> dict:
    incident = _incident_for(user, key, incident_detail_queryset(user=user).with_ai_flag())
    coe_status = _coe_status(incident)
    return {
        **incident_row(incident),
        "summary": incident.summary,
        "customer_impact": incident.customer_impact,
        "times": {which: incident_time_text(incident, which) for which in MILESTONES},
        "primary_cause": incident.get_primary_cause_display(),
        "adopted_cause": incident.get_adopted_cause_display() if incident.adopted_cause else None,
        "attribution": incident.get_attribution_status_display(),
        "trigger": incident.trigger_text,
        "team": incident.team.name if incident.team else None,
        "regions": [region.code for region in incident.regions.all()],
        "factors": [factor.get_factor_display() for factor in incident.factors.all()],
        "ai_involvement": [
            {
                "agent": ai.agent_name,
                "vendor": ai.vendor,
                "role": ai.get_role_display(),
                "autonomy_level": ai.get_autonomy_level_display() if ai.autonomy_level else None,
                "action_taken": ai.action_taken,
                "action_class": ai.get_action_class_display() if ai.action_class else None,
            }
            for ai in incident.ai_involvements.all()
        ],
        "timeline": [
            {
                "when": event_time_text(event),
                "kind": event.get_kind_display(),
                "what": event.description,
                "source": event.source.publisher if event.source else None,
            }
            for event in incident.timeline.all()
        ],
        "impact": [
            {
                "name": figure.name,
                "value": str(figure.value),
                "unit": figure.unit,
                "estimate": figure.is_estimate,
                "source": figure.source.publisher if figure.source else None,
            }
            for figure in incident.impact_figures.all()
        ],
        # Sources disagree; each claim is kept beside its source rather than resolved.
        "claims": [
            {
                "claimant": claim.claimant,
                "stance": claim.get_stance_display(),
                "statement": claim.statement,
                "source": claim.source.publisher,
            }
            for claim in incident.claims.all()
        ],
        "action_items": [action_row(item) for item in incident.action_items.all()],
        # Visible with the incident: a control is shown to whoever sees one of its incidents.
        "controls": [control.name for control in incident.controls.all()],
        "sources": [{"publisher": s.publisher, "title": s.title, "url": s.url} for s in incident.sources.all()],
        "coe_status": coe_status,
        "coe_readable": coe_status in READABLE_COE,
    }


def cited_sources(incident: Incident) -> QuerySet[Source]:
    """Every source the incident lists or any of its records cites (all visible to whoever sees it)."""
    return Source.objects.cited_by(incident).order_by("published_on", "publisher")


def coe_markdown(coe: CoeDocument, sources: list[Source] | None = None) -> str:
    """The COE as the site exports it (templates/incidents/coe_export.md), with the sources it rests on."""
    incident = coe.incident
    return render_to_string(
        "incidents/coe_export.md",
        {
            "coe": coe,
            "incident": incident,
            "sections": coe.section_items(),
            "items": list(incident.action_items.select_related("owner", "source")),
            "timeline": list(incident.timeline.select_related("source")),
            "sources": sources if sources is not None else list(cited_sources(incident)),
        },
    )


def readable_coe(user, key: str) -> CoeDocument:
    incident = _incident_for(user, key)
    coe = CoeDocument.objects.select_related("incident", "owner", "approver").filter(incident=incident).first()
    if coe is None:
        raise Refused(f"{incident.key} has no COE yet.")
    if coe.status not in READABLE_COE:
        status = coe.get_status_display().lower()
        raise Refused(f"{incident.key}'s COE is {status}: only approved or published COEs are read.")
    return coe


def get_coe(user, *, key: str) -> dict:
    coe = readable_coe(user, key)
    sources = list(cited_sources(coe.incident))
    return {
        "key": coe.incident.key,
        "title": coe.incident.title,
        "status": coe.status,
        "published": coe.published_at.date().isoformat() if coe.published_at else None,
        "sources": [{"publisher": s.publisher, "title": s.title, "url": s.url, "kind": s.kind} for s in sources],
        "markdown": coe_markdown(coe, sources),
    }


def published_coes(user) -> list[dict]:
    """The latest published COEs the user may read (the MCP resources): key, title, publication time."""
    return list(
        CoeDocument.objects.filter(status=CoeStatus.PUBLISHED, incident__in=_visible(user))
        .order_by("-published_at", "-id")
        .values("incident__key", "incident__title", "published_at")[:RESOURCES_LISTED]
    )


def action_row(item: ActionItem) -> dict:
    return {
        "id": item.pk,
        "incident": item.incident.key,
        "title": item.title,
        "type": item.action_type,
        "priority": item.priority,
        "status": item.status,
        "owner": item.owner.get_username() if item.owner else None,
        "due": item.due_date.isoformat() if item.due_date else None,
        "overdue": item.is_overdue(),
        "url": reverse("incidents:action-item", args=[item.incident.key, item.pk]),
    }


def visible_action_items(user) -> QuerySet[ActionItem]:
    return ActionItem.objects.filter(incident__in=_visible(user)).select_related("incident", "owner")


def list_action_items(
    user,
    *,
    open: bool,
    overdue: bool | None,
    owner: str | None,
    team: str | None,
    service: str | None,
    incident: str | None,
    limit: int,
) -> dict:
    data = {"open": "true" if open else "", "overdue": "" if overdue is None else str(overdue).lower()}
    data.update(owner=owner or "", incident=(incident or "").strip().upper())
    items = ActionItemFilter(data, queryset=visible_action_items(user)).qs
    if team:
        items = items.filter(Q(team__slug=team) | Q(team__name__iexact=team))
    if service:
        items = items.filter(incident__services__in=service_ids(user, service)).distinct()
    total = items.count()
    return {"total": total, "action_items": [action_row(item) for item in items.order_by("due_date", "id")[:limit]]}


def control_row(control: Control, led: tuple[list[dict], int] | None) -> dict:
    incidents, total = led or ([], 0)
    return {
        "name": control.name,
        "description": control.description,
        "scope": control.scope,
        "status": control.status,
        "starts_on": control.starts_on.isoformat() if control.starts_on else None,
        "ends_on": control.ends_on.isoformat() if control.ends_on else None,
        "owner": control.owner_name,
        "disputed": control.disputed,
        "dispute_note": control.dispute_note,
        "led_to_by": incidents,  # the earliest LED_TO_BY
        "incidents_total": total,
    }


def service_ids(user, name: str) -> list[int]:
    """The service of that name among those the user may see, or Refused naming the ones they may."""
    found = list(Service.objects.visible_to(user).filter(name__iexact=name.strip()).values_list("pk", flat=True))
    if not found:
        raise Refused(unknown_service(user, name))
    return found


def list_controls(user, *, service: str | None, include_inactive: bool, limit: int) -> dict:
    controls = visible_controls(user)
    if not include_inactive:
        controls = controls.filter(status=ControlStatus.ACTIVE)
    if service:
        on_service = Control.incidents.through.objects.filter(
            control=OuterRef("pk"), incident__services__in=service_ids(user, service)
        ).exclude(incident__in=Incident.objects.hidden_from(user))
        controls = controls.filter(Exists(on_service))
    controls = list(controls.order_by("name")[:limit])
    led = led_to_by(user, [control.pk for control in controls])
    return {"controls": [control_row(control, led.get(control.pk)) for control in controls]}
