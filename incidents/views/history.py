"""An incident's change history: every change to it and its records, newest first, a page at a time."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from incidents.history import describe, entries_for
from incidents.models import Incident

from .access import incident_for

PAGE_SIZE = 25


@login_required
@require_GET
def incident_history(request, key: str):
    # 404 for an incident the reader may not see, as on its page; its published time marks later changes.
    incident = incident_for(request.user, key, Incident.objects.annotate(published_at=F("coe__published_at")))
    page = Paginator(entries_for(incident.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "incident": incident,
        "page": page,
        "changes": describe(list(page), published_at=incident.published_at),
    }
    # htmx swaps the panel into the incident's page; a plain request (a link followed) gets a page of its own.
    template = "incidents/_history.html" + ("#panel" if request.htmx else "")
    return TemplateResponse(request, template, context)
