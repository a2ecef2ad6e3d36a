"""The incident list's Export link: what the reader may see, with the list's current filters."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from incidents.exports.export import export_knowledge_base
from incidents.exports.selection import ExportError


def download(export) -> StreamingHttpResponse:
    """The export as a download, sent as it is written."""
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@login_required
@require_GET
def export_incidents(request):
    query = request.GET.copy()
    format = query.pop("format", ["json"])[-1]
    try:
        export = export_knowledge_base(user=request.user, format=format, query=query.urlencode())
    except ExportError as error:
        messages.error(request, f"Nothing exported: {error}")
        return redirect(f"{reverse('incidents:list')}?{query.urlencode()}")
    return download(export)
