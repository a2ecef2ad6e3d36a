"""GET /api/v1/export.json and /api/v1/export.zip: the knowledge base, or what the incident list's filters
select, as the token's user may see it (a read-scope token is enough)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from incidents.exports.export import export_knowledge_base
from incidents.exports.selection import ExportError
from incidents.views.exports import download

from .permissions import TokenScopeAllows


class _ExportView(APIView):
    permission_classes = [IsAuthenticated, TokenScopeAllows]
    export_format = ""

    def get(self, request):
        try:
            export = export_knowledge_base(
                user=request.user, format=self.export_format, query=request.META.get("QUERY_STRING", "")
            )
        except ExportError as error:
            raise ValidationError({"filter": [str(error)]}) from None
        return download(export)


@extend_schema(
    summary="Export as JSON",
    description="The incidents you may see (filtered like the incident list) with everything recorded about "
    "them, in the format import_json restores (docs/export-format.md). Streamed.",
    responses={(200, "application/json"): OpenApiTypes.OBJECT},
)
class ExportJsonView(_ExportView):
    export_format = "json"


@extend_schema(
    summary="Export as Markdown files",
    description="A zip of one Markdown file per incident you may see (filtered like the incident list), with "
    "YAML front matter, its COE, timeline, action items and sources. Streamed.",
    responses={(200, "application/zip"): OpenApiTypes.BINARY},
)
class ExportZipView(_ExportView):
    export_format = "markdown"
