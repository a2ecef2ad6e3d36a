"""Incident pages: list, detail, create and edit, and the inline timeline editor."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from incidents import selectors, services
from incidents.filters import IncidentFilter
from incidents.forms import IncidentForm, TimelineEventForm
from incidents.models import Incident, TimelineEvent

from .access import incident_for, require

PAGE_SIZE = 25


@login_required
def incident_list(request):
    filterset = IncidentFilter(request.GET, queryset=selectors.incident_list(user=request.user), request=request)
    # An invalid filter shows its error beside the field and lists nothing
    # rather than silently listing everything.
    incidents = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(
        request,
        "incidents/incident_list.html",
        {"filter": filterset, "page_obj": page, "query": query.urlencode()},
    )


@login_required
def incident_detail(request, key: str):
    incident = incident_for(request.user, key, selectors.incident_detail_queryset(user=request.user))
    return TemplateResponse(request, "incidents/incident_detail.html", selectors.incident_detail_context(incident))


@login_required
@require_http_methods(["GET", "POST"])
def incident_create(request):
    require(request.user, "incidents.add_incident")
    form = IncidentForm(request.POST or None, user=request.user, initial={"owner": request.user})
    if request.method == "POST" and form.is_valid():
        incident = form.save_with(services.incident_create, user=request.user)
        if incident is not None:
            messages.success(request, f"{incident.key} created. Add its timeline next.")
            return redirect("incidents:timeline", key=incident.key)
    return TemplateResponse(request, "incidents/incident_form.html", {"form": form, "incident": None})


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit(request, key: str):
    incident = incident_for(request.user, key)
    require(request.user, "incidents.change_incident")
    form = IncidentForm(request.POST or None, instance=incident, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = form.save_with(services.incident_update, user=request.user, incident=incident)
        if saved is not None:
            messages.success(request, f"{saved.key} saved.")
            return redirect(saved)
    return TemplateResponse(request, "incidents/incident_form.html", {"form": form, "incident": incident})


def _timeline_response(
    request, incident: Incident, *, add_form=None, editing=None, edit_form=None, delete_error=None, status=200
):
    context = {
        "incident": incident,
        "events": list(incident.timeline.select_related("source")),
        "add_form": add_form or TimelineEventForm(initial={"display_tz": "UTC"}, user=request.user),
        "editing": editing,
        "edit_form": edit_form,
        "delete_error": delete_error,
    }
    # htmx swaps only the panel; a plain request gets the whole page.
    template = "incidents/timeline_edit.html" + ("#panel" if request.htmx else "")
    return TemplateResponse(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def timeline_edit(request, key: str):
    incident = incident_for(request.user, key)
    if request.method == "GET":
        return _timeline_response(request, incident)
    require(request.user, "incidents.add_timelineevent")
    form = TimelineEventForm(request.POST, instance=TimelineEvent(incident=incident), user=request.user)
    if not (form.is_valid() and form.save_with(services.timeline_event_create, incident=incident)):
        return _timeline_response(request, incident, add_form=form, status=422 if request.htmx else 200)
    if request.htmx:
        return _timeline_response(request, incident)
    messages.success(request, "Event added.")
    return redirect("incidents:timeline", key=key)


@login_required
@require_http_methods(["GET", "POST"])
def timeline_event_edit(request, key: str, event_id: int):
    incident = incident_for(request.user, key)
    event = get_object_or_404(TimelineEvent, pk=event_id, incident=incident)
    # The GET is the inline edit form, so it needs the right to save it, like incident_edit.
    require(request.user, "incidents.change_timelineevent")
    if request.method == "GET":
        return _timeline_response(
            request, incident, editing=event.pk, edit_form=TimelineEventForm(instance=event, user=request.user)
        )
    form = TimelineEventForm(request.POST, instance=event, user=request.user)
    if not (form.is_valid() and form.save_with(services.timeline_event_update, event=event)):
        return _timeline_response(
            request, incident, editing=event.pk, edit_form=form, status=422 if request.htmx else 200
        )
    if request.htmx:
        return _timeline_response(request, incident)
    messages.success(request, "Event saved.")
    return redirect("incidents:timeline", key=key)


@login_required
@require_POST
def timeline_event_delete(request, key: str, event_id: int):
    incident = incident_for(request.user, key)
    require(request.user, "incidents.delete_timelineevent")
    try:
        services.timeline_event_delete(event=get_object_or_404(TimelineEvent, pk=event_id, incident=incident))
    except ValidationError as error:
        # The incident's only start event: refused, said above the events.
        refused = " ".join(error.messages)
        if request.htmx:
            return _timeline_response(request, incident, delete_error=refused, status=422)
        messages.error(request, refused)
        return redirect("incidents:timeline", key=key)
    if request.htmx:
        return _timeline_response(request, incident)
    messages.success(request, "Event removed.")
    return redirect("incidents:timeline", key=key)
