"""API viewsets: visibility first, then filters, then the serializer; writes go through incidents.services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import provenance, services
from incidents.filters import ActionItemFilter, ControlFilter, IncidentFilter
from incidents.models import (
    ActionItem,
    CoeDocument,
    Control,
    Incident,
    Source,
    WorkflowError,
)
from incidents.models import vocab as v

from . import detail, list_statements, rows
from . import serializers as s
from .conditional import check_if_match, etag_for, incident_etag, require_if_match
from .csv_export import chunks, csv_response
from .filtering import StrictDjangoFilterBackend, TiebreakOrderingFilter, check_query_parameters
from .pagination import IncidentCursorPagination, UpdatedCursorPagination
from .parsers import BoundedJSONParser
from .part_views import locked_incident
from .permissions import ModelPermissionsForWrites, TokenScopeAllows
from .schema import ApiAutoSchema


def _validation_error(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


def visible_incidents(request) -> QuerySet[Incident]:
    return Incident.objects.visible_to(request.user)


class BaseViewSet(viewsets.GenericViewSet):
    permission_classes = [TokenScopeAllows, ModelPermissionsForWrites]
    filter_backends = [StrictDjangoFilterBackend, TiebreakOrderingFilter]
    parser_classes = [BoundedJSONParser]
    # Any path segment reaches the view, which answers a JSON 404 for a bad id
    # or key (a URL pattern that refused it would answer Django's HTML 404).
    lookup_value_regex = r"[^/\x00]+"
    schema = ApiAutoSchema()
    csv_filename: str | None = None  # set on lists that export ?format=csv
    etag_actions: tuple[str, ...] = ()  # actions that answer with an ETag (and take If-Match)
    schema_extra_errors: dict[str, tuple[str, ...]] = {}

    def csv_or_list(self, request, *args, **kwargs):
        """The list, or with ?format=csv all of it as CSV: the same objects, one column per field."""
        if request.query_params.get("format") == "csv":
            serializer_class = self.get_serializer_class()
            context = self.get_serializer_context()
            objects = chunks(
                self.filter_queryset(self.get_queryset()),
                lambda page: serializer_class(page, many=True, context=context).data,
            )
            return csv_response(self.csv_filename, list(serializer_class.Meta.fields), objects)
        return mixins.ListModelMixin.list(self, request, *args, **kwargs)


IF_MATCH_INCIDENT = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The incident's ETag; it stands for the whole detail, parts included.",
)


class IncidentRowsListMixin:
    """Incident lists answered from plain rows (rows.py), in JSON pages and as CSV. The
    IncidentListSerializer only describes them in the schema (a test checks they agree)."""

    def list(self, request, *args, **kwargs):
        if self.csv_filename and request.query_params.get("format") == "csv":
            incidents = rows.list_values(self.filter_queryset(visible_incidents(request)))
            objects = chunks(incidents, lambda page: rows.csv_shape(page, request))
            return csv_response(self.csv_filename, list(s.IncidentListSerializer.Meta.fields), objects)
        page = list_statements.page(self, request)
        return self.paginator.get_paginated_response(rows.shape(page, request))


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: all rows")],
    ),
    retrieve=extend_schema(summary="One incident with its timeline, classification, AI involvement and claims"),
)
class IncidentViewSet(IncidentRowsListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    lookup_field = "key"
    filterset_class = IncidentFilter
    pagination_class = IncidentCursorPagination
    ordering_fields = ["started_at", "updated_at", "severity", "key"]
    ordering = ["-started_at"]
    queryset = Incident.objects.all()
    csv_filename = "incidents.csv"
    etag_actions = ("retrieve", "create", "update", "partial_update")
    schema_extra_errors = {"update": ("428",), "partial_update": ("428",)}

    def get_queryset(self):
        return visible_incidents(self.request)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.IncidentDetailSerializer
        if self.action in ("create", "update", "partial_update"):
            return s.IncidentInputSerializer
        return s.IncidentListSerializer

    def retrieve(self, request, *args, **kwargs):
        # The incident and all its parts in one query, shaped into the detail's JSON (detail.py).
        # Looked up as get_object() does: visible, filtered, 404 otherwise.
        if request.query_params:
            row = detail.fetch(self.filter_queryset(visible_incidents(request)).filter(key=self.kwargs["key"]))
        else:  # no filters to apply: a statement compiled once picks the incident
            row = detail.fetch_visible(request.user, self.kwargs["key"])
        if row is None:
            raise Http404("No incident with that key.")
        # No check_object_permissions(): reads are governed by visibility (fetch_visible), and none of the
        # permission classes has a rule per object (a test keeps it so). Building an Incident only to pass
        # it cost a tenth of the request.
        response = Response(detail.shape(row, request))
        response["ETag"] = incident_etag(row)
        return response

    @extend_schema(request=s.IncidentInputSerializer, responses={201: s.IncidentDetailSerializer})
    def create(self, request: Request):
        data = self._validated(request, partial=False)
        try:
            incident = services.incident_create(user=request.user, data=data)
        except DjangoValidationError as error:
            raise _validation_error(error) from None
        return self._detail_response(incident, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an incident: what the body holds (its classification too); lists given replace",
        request=s.IncidentInputSerializer,
        responses={200: s.IncidentDetailSerializer},
        parameters=[IF_MATCH_INCIDENT],
    )
    def partial_update(self, request: Request, key: str):
        return self._update(request, partial=True)

    @extend_schema(
        summary="Replace an incident's fields",
        request=s.IncidentInputSerializer,
        responses={200: s.IncidentDetailSerializer},
        parameters=[IF_MATCH_INCIDENT],
    )
    def update(self, request: Request, key: str):
        return self._update(request, partial=False)

    def _update(self, request, *, partial: bool):
        with transaction.atomic():
            incident = locked_incident(request, self.kwargs["key"], if_match_required=True)
            data = self._validated(request, partial=partial)
            try:
                incident = services.incident_update(user=request.user, incident=incident, data=data)
            except DjangoValidationError as error:
                raise _validation_error(error) from None
        return self._detail_response(incident, status.HTTP_200_OK)

    def _validated(self, request, *, partial: bool) -> dict:
        serializer = s.IncidentInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _detail_response(self, incident: Incident, code: int) -> Response:
        """After a write, the detail as a read answers it (detail.py), with its new ETag."""
        row = detail.fetch_visible(self.request.user, incident.key)
        response = Response(detail.shape(row, self.request), status=code)
        response["ETag"] = incident_etag(row)
        return response


class IncidentChildViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    """Read-only lists of an incident's parts, limited to incidents the caller may see."""

    ordering = ["id"]
    ordering_fields = ["id"]
    pagination_class = UpdatedCursorPagination

    def get_queryset(self):
        return self.queryset.filter(incident__in=visible_incidents(self.request))


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: all rows")]
    )
)
class ActionItemViewSet(IncidentChildViewSet):
    """Corrective actions of the incidents the caller may see. PATCH edits one and DELETE removes it,
    each with the item's ETag in If-Match; POST .../close/ closes it, as does PATCH {"status": "done"}.
    New items are added under their incident (part_views.ActionItemCreateViewSet)."""

    queryset = ActionItem.objects.select_related("incident", "owner")
    serializer_class = s.ActionItemSerializer
    filterset_class = ActionItemFilter
    ordering = ["due_date", "id"]
    ordering_fields = ["due_date", "priority", "updated_at", "id"]
    csv_filename = "action-items.csv"
    etag_actions = ("retrieve", "partial_update", "close", "destroy")
    schema_extra_errors = {"partial_update": ("428",), "destroy": ("412", "428")}

    def list(self, request, *args, **kwargs):
        return self.csv_or_list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        item = self.get_object()
        response = Response(self.get_serializer(item).data)
        response["ETag"] = etag_for(item)
        return response

    @extend_schema(
        request=s.ActionItemInputSerializer,
        responses={200: s.ActionItemSerializer},
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
    )
    def partial_update(self, request, pk=None):
        with transaction.atomic():
            item = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            check_if_match(request, etag_for(item), required=True)
            serializer = s.ActionItemInputSerializer(data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            try:
                item = services.action_item_update(item=item, data=serializer.validated_data, user=request.user)
            except DjangoValidationError as error:
                raise _validation_error(error) from None
        response = Response(self.get_serializer(item).data)
        response["ETag"] = etag_for(item)
        return response

    @extend_schema(request=None, responses={200: s.ActionItemSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Mark done (or ?status=wont_do / verified)."""
        wanted = request.query_params.get("status", v.ActionStatus.DONE)
        if wanted not in v.ACTION_STATUSES_CLOSED:
            raise ValidationError({"status": f"Close with one of {', '.join(v.ACTION_STATUSES_CLOSED)}."})
        with transaction.atomic():
            item = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            try:
                item = services.action_item_update(item=item, data={"status": wanted}, user=request.user)
            except DjangoValidationError as error:
                raise _validation_error(error) from None
        response = Response(self.get_serializer(item).data)
        response["ETag"] = etag_for(item)
        return response

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
    )
    def destroy(self, request, pk=None):
        with transaction.atomic():
            item = get_object_or_404(self.get_queryset().select_for_update(of=("self",)), pk=pk)
            check_if_match(request, etag_for(item), required=True)
            services.action_item_delete(item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    retrieve=extend_schema(summary="A COE document"),
    partial_update=extend_schema(
        summary="Edit a draft COE (needs If-Match with the ETag from GET)",
        request=s.CoeInputSerializer,
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
    ),
)
class CoeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    lookup_field = "key"
    serializer_class = s.CoeSerializer
    pagination_class = UpdatedCursorPagination
    ordering = ["-updated_at", "-id"]
    ordering_fields = ["updated_at", "id"]
    filterset_fields = ["status"]
    queryset = CoeDocument.objects.all()
    etag_actions = ("retrieve", "partial_update")
    schema_extra_errors = {"partial_update": ("409", "428")}

    def get_queryset(self):
        return (
            CoeDocument.objects.filter(incident__in=visible_incidents(self.request))
            .select_related("incident", "owner", "approver")
            .prefetch_related("authors")
        )

    def get_object(self):
        return get_object_or_404(self.get_queryset(), incident__key=self.kwargs["key"])

    def retrieve(self, request, *args, **kwargs):
        coe = self.get_object()
        response = Response(self.get_serializer(coe).data)
        response["ETag"] = etag_for(coe)
        return response

    def partial_update(self, request, key=None):
        coe = self.get_object()
        self.check_object_permissions(request, coe)
        # Writing a COE without saying which version it edits would overwrite a colleague's text.
        base_version = require_if_match(request, coe)
        serializer = s.CoeInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            coe = services.coe_save(
                coe=coe, user=request.user, data=serializer.validated_data, base_version=base_version
            )
        except services.ConflictError:
            return Response(
                {"error": {"status": 412, "code": "precondition_failed", "detail": "The COE changed since that ETag."}},
                status=status.HTTP_412_PRECONDITION_FAILED,
            )
        except WorkflowError as error:
            return Response(
                {"error": {"status": 409, "code": "conflict", "detail": str(error)}}, status=status.HTTP_409_CONFLICT
            )
        coe = self.get_queryset().get(pk=coe.pk)
        response = Response(self.get_serializer(coe).data)
        response["ETag"] = etag_for(coe)
        return response


class SourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    serializer_class = s.SourceSerializer
    pagination_class = UpdatedCursorPagination
    ordering = ["id"]
    ordering_fields = ["id", "published_on"]
    filterset_fields = ["kind"]
    queryset = Source.objects.all()

    def get_queryset(self):
        return Source.objects.visible_to(self.request.user)


class ControlViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BaseViewSet):
    serializer_class = s.ControlSerializer
    pagination_class = UpdatedCursorPagination
    ordering = ["id"]
    ordering_fields = ["id", "name"]
    filterset_class = ControlFilter
    queryset = Control.objects.prefetch_related("incidents", "sources")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["visible_incident_ids"] = set(visible_incidents(self.request).values_list("pk", flat=True))
        return context


@extend_schema_view(list=extend_schema(summary="Everything changed since a point in time, oldest change first"))
class FeedViewSet(IncidentRowsListMixin, mixins.ListModelMixin, BaseViewSet):
    """Incidents ordered by last change. Page with the `next` link; keep the last
    `updated_at` you saw and pass it as `updated_since` next time."""

    serializer_class = s.IncidentListSerializer
    pagination_class = UpdatedCursorPagination
    filterset_class = IncidentFilter
    filter_backends = [StrictDjangoFilterBackend]
    queryset = Incident.objects.all()

    def get_queryset(self):
        return visible_incidents(self.request)


class VocabularyView(APIView):
    """Every controlled vocabulary, so clients build forms without hard-coding them."""

    permission_classes = [IsAuthenticated, TokenScopeAllows]
    schema = ApiAutoSchema()

    VOCABULARIES = {
        "severity": v.Severity,
        "incident_status": v.IncidentStatus,
        "primary_cause": v.PrimaryCause,
        "trigger_kind": v.TriggerKind,
        "contributing_factor": v.ContributingFactor,
        "harm_level": v.HarmLevel,
        "autonomy_level": v.AutonomyLevel,
        "cset_autonomy": v.CsetAutonomy,
        "ai_role": v.AIRole,
        "gate_type": v.GateType,
        "permission_scope": v.PermissionScope,
        "action_class": v.ActionClass,
        "attribution_status": v.AttributionStatus,
        "stance": v.Stance,
        "source_kind": v.SourceKind,
        "coe_status": v.CoeStatus,
        "action_type": v.ActionType,
        "action_status": v.ActionStatus,
        "priority": v.Priority,
        "timeline_kind": v.TimelineKind,
        "actor_kind": v.ActorKind,
        "basis": v.Basis,
    }
    # Where a stored label would mislead read alone ("None" for CSET's "no AI harm"), the pages' words.
    LABELS = {"harm_level": provenance.HARM_LEVEL_LABELS}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        check_query_parameters(request, known=set())
        body = {}
        for name, vocab in self.VOCABULARIES.items():
            labels = self.LABELS.get(name, {})
            body[name] = [{"value": value, "label": labels.get(value, label)} for value, label in vocab.choices]
        body["autonomy_to_cset"] = {level.value: cset.value for level, cset in v.AUTONOMY_TO_CSET.items()}
        return Response(body)


class NotFoundView(APIView):
    """Any other URL under /api/v1/: a JSON 404 in the API's error shape, not Django's HTML page.

    Route it last in incidents/api/urls.py: re_path(r"^.*$", views.NotFoundView.as_view()).
    """

    permission_classes = [AllowAny]
    schema = None  # not an operation

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound("There is no such API endpoint.")

    def get(self, request, *args, **kwargs):
        raise NotFound("There is no such API endpoint.")

    post = put = patch = delete = get
