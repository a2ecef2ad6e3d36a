"""/search/?q=: one search across the knowledge base, with facets (see incidents.search)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse

from incidents import search as backend


@login_required
def search(request):
    text = request.GET.get("q", "")
    # No text can hold a NUL character (PostgreSQL refuses it): a clear 400, not a failed query.
    if any("\x00" in value for _name, values in request.GET.lists() for value in values):
        return HttpResponseBadRequest("The search cannot contain NUL characters.", content_type="text/plain")
    filters = backend.clean_filters(request.GET)
    results = backend.search(request.user, text, filters, page=request.GET.get("page"))
    base = request.GET.copy()
    base.pop("page", None)

    def with_param(name: str, value: str | None) -> str:
        query = base.copy()
        query.pop(name, None)
        if value is not None:
            query[name] = value
        return query.urlencode()

    facets = [
        {
            "name": name,
            "label": label,
            "values": [
                {
                    "value": v.value,
                    "label": v.label,
                    "count": v.count,
                    "selected": v.selected,
                    # A facet link adds its filter; the selected one takes it off again.
                    "query": with_param(name, None if v.selected else v.value),
                }
                for v in values
            ],
        }
        for name, label, values in results.facets
    ]
    active = []
    for name, value in filters.items():
        label, choices = backend.FACETS[name]
        shown = choices.get(value, value) if choices else value
        active.append({"label": label, "value": shown, "query": with_param(name, None)})
    return TemplateResponse(
        request,
        "incidents/search.html",
        {
            "q": results.text,
            "results": results,
            "facets": facets,
            "active_filters": active,
            "page_query": base.urlencode(),
        },
    )
