"""The incident page's evidence sections, edited in place: sources, claims and the adopted cause,
AI involvement, impact figures, controls and the COE's operational review.

Each section is a partial (templates/incidents/evidence/<section>.html). With htmx a button fetches
the section with its form open, the form posts back and gets the section again: closed when saved,
open with the errors beside each field and everything typed when not (422, which htmx swaps). Without
JavaScript the same URLs answer with the whole incident page, and a save redirects back to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import selectors, services
from incidents.evidence_forms import (
    AIInvolvementForm,
    AttributionForm,
    ClaimForm,
    ControlsForm,
    ImpactFigureForm,
    OpsReviewForm,
    SourceForm,
)
from incidents.models import CoeDocument, Incident

from .access import incident_for, require


@dataclass(frozen=True)
class ListSection:
    """A section of several records: add, edit and remove each."""

    perm: str
    noun: str
    items: Callable  # incident -> its records
    form: Callable  # (data, *, incident, instance) -> form
    create: Callable  # (form, user, incident) -> saved or None
    update: Callable  # (form, user, record) -> saved or None
    delete: Callable  # (user, incident, record) -> None, or ValidationError


@dataclass(frozen=True)
class SingleSection:
    """A section that is one form over one record (the incident, or its COE)."""

    perm: str
    noun: str
    template: str  # the section shown, which may hold other editable parts
    form: Callable  # (data, *, incident) -> form
    save: Callable  # (form, user, incident) -> saved or None


def _coe(incident: Incident) -> CoeDocument:
    coe = CoeDocument.objects.filter(incident=incident).first()
    if coe is None:
        raise Http404("This incident has no COE yet.")
    return coe


LISTS = {
    "sources": ListSection(
        perm="incidents.change_incident",
        noun="Source",
        items=lambda incident: incident.sources.all(),
        form=lambda data, *, incident, instance: SourceForm(data, instance=instance, adding=instance is None),
        create=lambda form, user, incident: form.save_with(services.incident_source_add, user=user, incident=incident),
        update=lambda form, user, source: form.save_with(services.source_update, source=source),
        delete=lambda user, incident, source: services.incident_source_remove(
            user=user, incident=incident, source=source
        ),
    ),
    "claims": ListSection(
        perm="incidents.change_claim",
        noun="Claim",
        items=lambda incident: incident.claims.all(),
        form=lambda data, *, incident, instance: ClaimForm(data, instance=instance, incident=incident),
        create=lambda form, user, incident: form.save_with(services.claim_create, user=user, incident=incident),
        update=lambda form, user, claim: form.save_with(services.claim_update, user=user, claim=claim),
        delete=lambda user, incident, claim: services.claim_delete(user=user, claim=claim),
    ),
    "ai": ListSection(
        perm="incidents.change_aiinvolvement",
        noun="AI involvement",
        items=lambda incident: incident.ai_involvements.all(),
        form=lambda data, *, incident, instance: AIInvolvementForm(data, instance=instance, incident=incident),
        create=lambda form, user, incident: form.save_with(
            services.ai_involvement_create, user=user, incident=incident
        ),
        update=lambda form, user, involvement: form.save_with(
            services.ai_involvement_update, user=user, involvement=involvement
        ),
        delete=lambda user, incident, involvement: services.ai_involvement_delete(user=user, involvement=involvement),
    ),
    "impact": ListSection(
        perm="incidents.change_impactfigure",
        noun="Impact figure",
        items=lambda incident: incident.impact_figures.all(),
        form=lambda data, *, incident, instance: ImpactFigureForm(data, instance=instance, incident=incident),
        create=lambda form, user, incident: form.save_with(services.impact_figure_create, user=user, incident=incident),
        update=lambda form, user, figure: form.save_with(services.impact_figure_update, user=user, figure=figure),
        delete=lambda user, incident, figure: services.impact_figure_delete(user=user, figure=figure),
    ),
}

SINGLES = {
    "attribution": SingleSection(
        perm="incidents.change_incident",
        noun="Attribution",
        template="claims",
        form=lambda data, *, incident: AttributionForm(data, instance=incident),
        save=lambda form, user, incident: form.save_with(services.attribution_set, user=user, incident=incident),
    ),
    "controls": SingleSection(
        perm="incidents.change_incident",
        noun="Controls",
        template="controls",
        form=lambda data, *, incident: ControlsForm(data, incident=incident),
        save=lambda form, user, incident: form.save_with(services.incident_controls_set, user=user, incident=incident),
    ),
    "ops-review": SingleSection(
        perm="incidents.change_coedocument",
        noun="Operational review",
        template="ops_review",
        form=lambda data, *, incident: OpsReviewForm(data, instance=_coe(incident)),
        save=lambda form, user, incident: form.save_with(services.ops_review_set, user=user, coe=form.instance),
    ),
}

# The partial each section name renders (a singleton may live inside a list's section).
TEMPLATES = {**{name: name for name in LISTS}, **{name: single.template for name, single in SINGLES.items()}}


def _section(name: str, table: dict):
    try:
        return table[name]
    except KeyError:
        raise Http404("No such section.") from None


def _respond(request, key: str, section: str, *, form=None, editing=None, error: str = "", status: int = 200):
    """The section (htmx) or the whole page (no JavaScript), read afresh after any write."""
    incident = incident_for(request.user, key, selectors.incident_detail_queryset(user=request.user))
    context = {
        **selectors.incident_detail_context(incident),
        # The section whose form or error is shown; none when it is shown closed.
        "open_section": section if form is not None or error else None,
        "editing": editing,
        "evidence_form": form,
        "section_error": error,
    }
    template = f"incidents/evidence/{TEMPLATES[section]}.html" if request.htmx else "incidents/incident_detail.html"
    return TemplateResponse(request, template, context, status=status)


def _saved(request, key: str, section: str, message: str):
    if request.htmx:
        return _respond(request, key, section)
    messages.success(request, message)
    return redirect(f"{incident_for(request.user, key).get_absolute_url()}#evidence-{TEMPLATES[section]}")


def _invalid(request, key: str, section: str, form, editing):
    return _respond(request, key, section, form=form, editing=editing, status=422 if request.htmx else 200)


@login_required
@require_GET
def evidence_section(request, key: str, section: str):
    """The section as it is, its forms closed: what Cancel fetches."""
    _section(section, {**LISTS, **SINGLES})
    return _respond(request, key, section)


@login_required
@require_http_methods(["GET", "POST"])
def evidence_add(request, key: str, section: str):
    spec = _section(section, LISTS)
    incident = incident_for(request.user, key)
    require(request.user, spec.perm)
    form = spec.form(request.POST if request.method == "POST" else None, incident=incident, instance=None)
    if request.method == "GET":
        return _respond(request, key, section, form=form, editing="new")
    if form.is_valid() and spec.create(form, request.user, incident) is not None:
        return _saved(request, key, section, f"{spec.noun} added.")
    return _invalid(request, key, section, form, "new")


@login_required
@require_http_methods(["GET", "POST"])
def evidence_edit(request, key: str, section: str, item_id: int):
    spec = _section(section, LISTS)
    incident = incident_for(request.user, key)
    require(request.user, spec.perm)
    record = get_object_or_404(spec.items(incident), pk=item_id)
    form = spec.form(request.POST if request.method == "POST" else None, incident=incident, instance=record)
    if request.method == "GET":
        return _respond(request, key, section, form=form, editing=record.pk)
    if form.is_valid() and spec.update(form, request.user, record) is not None:
        return _saved(request, key, section, f"{spec.noun} saved.")
    return _invalid(request, key, section, form, record.pk)


@login_required
@require_POST
def evidence_delete(request, key: str, section: str, item_id: int):
    spec = _section(section, LISTS)
    incident = incident_for(request.user, key)
    require(request.user, spec.perm)
    record = get_object_or_404(spec.items(incident), pk=item_id)
    try:
        spec.delete(request.user, incident, record)
    except ValidationError as refused:
        return _respond(request, key, section, error=" ".join(refused.messages), status=422 if request.htmx else 200)
    return _saved(request, key, section, f"{spec.noun} removed.")


@login_required
@require_http_methods(["GET", "POST"])
def evidence_edit_single(request, key: str, section: str):
    spec = _section(section, SINGLES)
    incident = incident_for(request.user, key)
    require(request.user, spec.perm)
    form = spec.form(request.POST if request.method == "POST" else None, incident=incident)
    if request.method == "GET":
        return _respond(request, key, section, form=form, editing="edit")
    if form.is_valid() and spec.save(form, request.user, incident) is not None:
        return _saved(request, key, section, f"{spec.noun} saved.")
    return _invalid(request, key, section, form, "edit")
