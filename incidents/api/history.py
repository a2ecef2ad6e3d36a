"""GET /api/v1/incidents/{key}/history/: every change to an incident and its records, newest first.

The same entries, visibility and labels as the History section of the incident's page
(incidents/history.py); paged with a cursor like the other lists.
"""

from __future__ import annotations

from django.db.models import F
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated

from incidents.history import describe, entries_for
from incidents.models import Incident

from .filtering import check_query_parameters
from .pagination import KeysetCursorPagination
from .permissions import TokenScopeAllows
from .schema import ApiAutoSchema


class HistoryCursorPagination(KeysetCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-timestamp", "-id")


class HistoryFieldSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The field's name, as in the record's own endpoint.")
    label = serializers.CharField(help_text="The field's name for people.")
    before = serializers.JSONField(allow_null=True, help_text="The value before, as stored; null for a list's change.")
    after = serializers.JSONField(allow_null=True, help_text="The value after, as stored; null for a list's change.")
    before_display = serializers.CharField(help_text="The value before for people: a label, a name.")
    after_display = serializers.CharField(help_text="The value after for people.")
    added = serializers.ListField(child=serializers.CharField(), help_text="A list's change: the names added.")
    removed = serializers.ListField(child=serializers.CharField(), help_text="A list's change: the names removed.")


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField(help_text="When the change was saved.")
    actor = serializers.CharField(
        allow_null=True, help_text="The username of who made it; null for a bulk load or a system task."
    )
    action = serializers.ChoiceField(choices=["create", "update", "delete"])
    record_type = serializers.CharField(help_text="What kind of record changed: incident, timeline event, source...")
    record_id = serializers.IntegerField(allow_null=True)
    record = serializers.CharField(help_text="The record's name when it changed.")
    after_publication = serializers.BooleanField(help_text="Saved after the incident's COE was published.")
    changes = HistoryFieldSerializer(many=True, source="fields")


@extend_schema(
    summary="Every change to an incident, its evidence, action items and COE, newest first",
    description="Who made each change, when, and each field's value before and after. "
    "Page with the `next` link. An incident the caller may not see is a 404.",
)
class IncidentHistoryView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, TokenScopeAllows]
    pagination_class = HistoryCursorPagination
    serializer_class = HistoryEntrySerializer
    schema = ApiAutoSchema()

    def list(self, request, *args, **kwargs):
        check_query_parameters(request, known={"cursor", "page_size"})
        incident = (
            Incident.objects.visible_to(request.user)
            .annotate(published_at=F("coe__published_at"))
            .filter(key=kwargs["key"])
            .first()
        )
        if incident is None:
            raise NotFound("No such incident.")
        page = self.paginate_queryset(entries_for(incident.pk))
        changes = describe(page, published_at=incident.published_at)
        return self.get_paginated_response(self.get_serializer(changes, many=True).data)
