"""HTML pages: access check, then a selector, then a TemplateResponse."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from . import selectors
from .filters import IncidentFilter

PAGE_SIZE = 25


@login_required
def incident_list(request):
    filterset = IncidentFilter(request.GET, queryset=selectors.incident_list(user=request.user))
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
    # 404, not 403, for a restricted incident: an outsider must not learn it exists.
    incident = get_object_or_404(selectors.incident_detail_queryset(user=request.user), key=key)
    return TemplateResponse(request, "incidents/incident_detail.html", selectors.incident_detail_context(incident))
