from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from . import selectors


@login_required
def incident_list(request):
    incidents = selectors.incident_list(user=request.user)
    page = Paginator(incidents, 25).get_page(request.GET.get("page"))
    return TemplateResponse(request, "incidents/incident_list.html", {"page_obj": page})


@login_required
def incident_detail(request, key: str):
    # 404, not 403, for a restricted incident: an outsider must not learn it exists.
    incident = get_object_or_404(selectors.incident_detail_queryset(user=request.user), key=key)
    return TemplateResponse(request, "incidents/incident_detail.html", {"incident": incident})
