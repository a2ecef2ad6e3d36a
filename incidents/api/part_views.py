"""Writes to an incident's parts: timeline events, sources, claims, AI involvement, impact figures, action items.

Each part is created under its incident (POST /incidents/{key}/claims/, ...) and changed or removed
at its own address (PATCH/PUT/DELETE /claims/{id}/, ...), through the services the pages use
(incidents.services) after the same validation (part_inputs.py). The part's answer is its one output
shape (the serializer the lists and the incident's detail use).

Concurrency: the parts have no version of their own; the incident's ETag stands for all of them
(conditional.py). Updates and deletes need it in If-Match (428 without, 412 when stale); creates
accept it. Every answer carries the incident's new ETag, so a tool can chain its writes. Action
items are a resource of their own and keep their own ETag.

Who: a write-scope token (or a session) of someone with the model permission the pages check
(removing evidence needs the permission to change it: the roles give no delete of evidence), on an
incident they may see; any other incident is a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import services
from incidents.models import ActionItem, AIInvolvement, Claim, Control, ImpactFigure, Incident, Source, TimelineEvent

from . import detail, part_inputs
from . import serializers as s
from .conditional import check_if_match, etag_for, incident_etag
from .filtering import StrictDjangoFilterBackend, TiebreakOrderingFilter
from .pagination import UpdatedCursorPagination
from .parsers import BoundedJSONParser
from .permissions import ModelPermissionsForWrites, TokenScopeAllows
from .schema import ApiAutoSchema


def visible_incidents(request) -> QuerySet[Incident]:
    return Incident.objects.visible_to(request.user)


def locked_incident(request, key: str, *, if_match_required: bool) -> Incident:
    """The incident a write changes, locked until the write commits, once the request's If-Match
    names its current ETag: 404 if the caller may not see it (never 403, which would confirm it
    exists), then 428 without If-Match (where required) and 412 when stale. Call inside a transaction."""
    incident = get_object_or_404(visible_incidents(request).select_for_update(of=("self",)), key=key)
    check_if_match(request, current_incident_etag(incident), required=if_match_required)
    return incident


def current_incident_etag(incident: Incident) -> str:
    return incident_etag(detail.fetch(Incident.objects.filter(pk=incident.pk)))


def field_errors(error: DjangoValidationError) -> ValidationError:
    """A model's or a service's ValidationError as the API's 400, by field."""
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


def validated(serializer_class, request, *, partial: bool) -> dict:
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EvidencePermissions(ModelPermissionsForWrites):
    """Model permissions, with removing a part counted as changing it (the roles grant no delete of evidence)."""

    perms_map = {**ModelPermissionsForWrites.perms_map, "DELETE": ["%(app_label)s.change_%(model_name)s"]}


@dataclass(frozen=True)
class Part:
    """One kind of part: its model, its output shape, its input, and the services that write it."""

    model: type
    output: type
    input: type
    create: Callable  # (user, incident, data) -> the part
    update: Callable  # (user, part, data) -> the part
    delete: Callable  # (user, part) -> None
    prefetch: tuple[str, ...] = ()


TIMELINE = Part(
    TimelineEvent,
    s.TimelineEventSerializer,
    part_inputs.TimelineEventInputSerializer,
    create=lambda user, incident, data: services.timeline_event_create(incident=incident, data=data),
    update=lambda user, event, data: services.timeline_event_update(event=event, data=data),
    delete=lambda user, event: services.timeline_event_delete(event=event),
)
CLAIM = Part(
    Claim,
    s.ClaimSerializer,
    part_inputs.ClaimInputSerializer,
    create=lambda user, incident, data: services.claim_create(user=user, incident=incident, data=data),
    update=lambda user, claim, data: services.claim_update(user=user, claim=claim, data=data),
    delete=lambda user, claim: services.claim_delete(user=user, claim=claim),
)
AI_INVOLVEMENT = Part(
    AIInvolvement,
    s.AIInvolvementSerializer,
    part_inputs.AIInvolvementInputSerializer,
    create=lambda user, incident, data: services.ai_involvement_create(user=user, incident=incident, data=data),
    update=lambda user, ai, data: services.ai_involvement_update(user=user, involvement=ai, data=data),
    delete=lambda user, ai: services.ai_involvement_delete(user=user, involvement=ai),
    prefetch=("evidence", "citations"),
)
IMPACT_FIGURE = Part(
    ImpactFigure,
    s.ImpactFigureSerializer,
    part_inputs.ImpactFigureInputSerializer,
    create=lambda user, incident, data: services.impact_figure_create(user=user, incident=incident, data=data),
    update=lambda user, figure, data: services.impact_figure_update(user=user, figure=figure, data=data),
    delete=lambda user, figure: services.impact_figure_delete(user=user, figure=figure),
)


class PartBase(viewsets.GenericViewSet):
    permission_classes = [TokenScopeAllows, EvidencePermissions]
    parser_classes = [BoundedJSONParser]
    lookup_value_regex = r"[^/\x00]+"  # any segment reaches the view, which answers a JSON 404
    schema = ApiAutoSchema()
    part: Part
    etag_actions: tuple[str, ...] = ()

    def get_queryset(self):
        queryset = self.part.model.objects.filter(incident__in=visible_incidents(self.request))
        return queryset.select_related("incident").prefetch_related(*self.part.prefetch)

    def answer(self, obj, code: int) -> Response:
        """The part as it now is (its one output shape), with the incident's new ETag."""
        obj = self.get_queryset().get(pk=obj.pk)
        response = Response(self.part.output(obj, context=self.get_serializer_context()).data, status=code)
        response["ETag"] = current_incident_etag(obj.incident)
        return response


class PartCreateViewSet(PartBase):
    """POST /incidents/{key}/<part>/: a new part of the incident."""

    etag_actions = ("create",)
    schema_extra_errors = {"create": ("412",)}

    def get_serializer_class(self):
        return self.part.input  # what OPTIONS describes

    def create(self, request, key: str):
        with transaction.atomic():
            incident = locked_incident(request, key, if_match_required=False)
            data = validated(self.part.input, request, partial=False)
            try:
                obj = self.part.create(request.user, incident, data)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        return self.answer(obj, status.HTTP_201_CREATED)


class PartChangeViewSet(PartBase):
    """PUT/PATCH/DELETE /<part>/{id}/, with the incident's ETag in If-Match."""

    etag_actions = ("update", "partial_update", "destroy")
    schema_extra_errors = {"update": ("428",), "partial_update": ("428",), "destroy": ("412", "428")}

    def locked(self, request, pk) -> object:
        """The part, once its incident is locked and If-Match checked (404 before anything else)."""
        obj = get_object_or_404(self.get_queryset(), pk=pk)
        locked_incident(request, obj.incident.key, if_match_required=True)
        return get_object_or_404(self.get_queryset(), pk=pk)  # as it is now the incident is locked

    def update(self, request, pk=None):
        return self._update(request, pk, partial=False)

    def partial_update(self, request, pk=None):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk, *, partial: bool):
        with transaction.atomic():
            obj = self.locked(request, pk)
            data = validated(self.part.input, request, partial=partial)
            try:
                obj = self.part.update(request.user, obj, data)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        return self.answer(obj, status.HTTP_200_OK)

    def destroy(self, request, pk=None):
        with transaction.atomic():
            obj = self.locked(request, pk)
            incident = obj.incident
            try:
                self.part.delete(request.user, obj)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["ETag"] = current_incident_etag(incident)
        return response


INCIDENT_KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The incident's key.")


def _part_schema(part: Part, noun: str):
    """The schema of a part's writes: request and response bodies, If-Match, the answer's ETag."""
    if_match = OpenApiParameter(
        "If-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="The incident's ETag (GET /incidents/{key}/ or the last write's answer).",
    )
    return extend_schema_view(
        update=extend_schema(
            summary=f"Replace {noun}", request=part.input, responses={200: part.output}, parameters=[if_match]
        ),
        partial_update=extend_schema(
            summary=f"Change {noun}", request=part.input, responses={200: part.output}, parameters=[if_match]
        ),
        destroy=extend_schema(summary=f"Remove {noun}", request=None, responses={204: None}, parameters=[if_match]),
    )


def _create_schema(part: Part, noun: str):
    return extend_schema_view(
        create=extend_schema(
            summary=f"Add {noun} to the incident",
            request=part.input,
            responses={201: part.output},
            parameters=[
                INCIDENT_KEY,
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Optional: the incident's ETag; a stale one gets 412 and adds nothing.",
                ),
            ],
        )
    )


# Creating, under the incident.


@_create_schema(TIMELINE, "a timeline event")
class TimelineEventCreateViewSet(PartCreateViewSet):
    part = TIMELINE
    queryset = TimelineEvent.objects.all()


@_create_schema(CLAIM, "a claim")
class ClaimCreateViewSet(PartCreateViewSet):
    part = CLAIM
    queryset = Claim.objects.all()


@_create_schema(AI_INVOLVEMENT, "an AI involvement record")
class AIInvolvementCreateViewSet(PartCreateViewSet):
    part = AI_INVOLVEMENT
    queryset = AIInvolvement.objects.all()


@_create_schema(IMPACT_FIGURE, "an impact figure")
class ImpactFigureCreateViewSet(PartCreateViewSet):
    part = IMPACT_FIGURE
    queryset = ImpactFigure.objects.all()


# Reading, changing and removing, at the part's own address.


@_part_schema(AI_INVOLVEMENT, "an AI involvement record")
class AIInvolvementViewSet(mixins.RetrieveModelMixin, PartChangeViewSet):
    """One AI involvement record: what an agent did and what let it, each field with its source."""

    part = AI_INVOLVEMENT
    queryset = AIInvolvement.objects.all()
    serializer_class = s.AIInvolvementSerializer


@_part_schema(IMPACT_FIGURE, "an impact figure")
class ImpactFigureViewSet(mixins.RetrieveModelMixin, PartChangeViewSet):
    part = IMPACT_FIGURE
    queryset = ImpactFigure.objects.all()
    serializer_class = s.ImpactFigureSerializer


@_part_schema(TIMELINE, "a timeline event")
class TimelineEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartChangeViewSet):
    queryset = TimelineEvent.objects.all()
    serializer_class = s.TimelineEventSerializer
    part = TIMELINE
    filter_backends = [StrictDjangoFilterBackend, TiebreakOrderingFilter]
    pagination_class = UpdatedCursorPagination
    ordering = ["occurred_at", "id"]
    ordering_fields = ["occurred_at", "id"]
    filterset_fields = ["kind", "actor_kind"]


@_part_schema(CLAIM, "a claim")
class ClaimViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartChangeViewSet):
    queryset = Claim.objects.all()
    serializer_class = s.ClaimSerializer
    part = CLAIM
    filter_backends = [StrictDjangoFilterBackend, TiebreakOrderingFilter]
    pagination_class = UpdatedCursorPagination
    ordering = ["id"]
    ordering_fields = ["id"]
    filterset_fields = ["stance", "claimed_cause"]

    def get_queryset(self):
        return super().get_queryset().select_related("source")


# The incident's sources.


@extend_schema_view(
    create=extend_schema(
        summary="Link a source to the incident (recorded first if its address is new)",
        description=(
            "A source already recorded at that address is reused and updated with the other fields given. "
            "Sources an incident's records cite are linked as they are cited."
        ),
        request=part_inputs.SourceInputSerializer,
        responses={201: s.SourceSerializer},
        parameters=[INCIDENT_KEY],
    ),
    destroy=extend_schema(
        summary="Unlink a source from the incident (refused while any of its records cites it)",
        request=None,
        responses={204: None},
        parameters=[
            INCIDENT_KEY,
            OpenApiParameter(
                "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="The incident's ETag."
            ),
        ],
    ),
)
class IncidentSourcesViewSet(PartBase):
    """POST /incidents/{key}/sources/ links a source; DELETE /incidents/{key}/sources/{id}/ unlinks it."""

    queryset = Source.objects.all()
    serializer_class = part_inputs.SourceInputSerializer  # what OPTIONS describes
    etag_actions = ("create", "destroy")
    schema_extra_errors = {"create": ("412",), "destroy": ("412", "428")}

    def get_queryset(self):
        return self.queryset  # for the model permissions only: the incident is looked up by key

    def create(self, request, key: str):
        with transaction.atomic():
            incident = locked_incident(request, key, if_match_required=False)
            data = validated(part_inputs.SourceInputSerializer, request, partial=False)
            try:
                source = services.incident_source_add(user=request.user, incident=incident, data=data)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        response = Response(s.SourceSerializer(source).data, status=status.HTTP_201_CREATED)
        response["ETag"] = current_incident_etag(incident)
        return response

    def destroy(self, request, key: str, pk=None):
        with transaction.atomic():
            incident = locked_incident(request, key, if_match_required=True)
            source = get_object_or_404(incident.sources.all(), pk=pk)
            try:
                services.incident_source_remove(user=request.user, incident=incident, source=source)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["ETag"] = current_incident_etag(incident)
        return response


# Action items: created under the incident; changed (views.ActionItemViewSet) and removed at their own
# address with their own ETag.


@extend_schema_view(
    create=extend_schema(
        summary="Add an action item to the incident",
        request=s.ActionItemInputSerializer,
        responses={201: s.ActionItemSerializer},
        parameters=[INCIDENT_KEY],
    )
)
class ActionItemCreateViewSet(PartBase):
    queryset = ActionItem.objects.all()
    serializer_class = s.ActionItemInputSerializer  # what OPTIONS describes
    permission_classes = [TokenScopeAllows, ModelPermissionsForWrites]
    etag_actions = ("create",)

    def get_queryset(self):
        return self.queryset  # for the model permissions only: the incident is looked up by key

    def create(self, request, key: str):
        with transaction.atomic():
            incident = get_object_or_404(visible_incidents(request).select_for_update(of=("self",)), key=key)
            data = validated(s.ActionItemInputSerializer, request, partial=False)
            try:
                item = services.action_item_create(incident=incident, data=data, user=request.user)
            except DjangoValidationError as error:
                raise field_errors(error) from None
        item = ActionItem.objects.select_related("incident", "owner").get(pk=item.pk)
        response = Response(s.ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)
        response["ETag"] = etag_for(item)
        return response


# The controls the incident led to: one list, replaced whole.


class IncidentControlsInput(serializers.Serializer):
    controls = serializers.ListField(
        child=serializers.PrimaryKeyRelatedField(queryset=Control.objects.all()),
        max_length=100,
        help_text="Ids of controls (GET /controls/); replaces the incident's list.",
    )


class IncidentControlsOutput(serializers.Serializer):
    controls = serializers.ListField(child=serializers.IntegerField())


class IncidentControlsView(APIView):
    """PUT /incidents/{key}/controls/: the controls the incident led to, with the incident's ETag in If-Match."""

    permission_classes = [TokenScopeAllows, ModelPermissionsForWrites]
    parser_classes = [BoundedJSONParser]
    schema = ApiAutoSchema()
    queryset = Incident.objects.all()  # for the model permissions: changing the incident
    etag_actions = ("put",)
    schema_extra_errors = {"put": ("428",)}

    @extend_schema(
        summary="Set the controls the incident led to",
        request=IncidentControlsInput,
        responses={200: IncidentControlsOutput},
        parameters=[
            INCIDENT_KEY,
            OpenApiParameter(
                "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="The incident's ETag."
            ),
        ],
    )
    def put(self, request, key: str):
        with transaction.atomic():
            incident = locked_incident(request, key, if_match_required=True)
            data = validated(IncidentControlsInput, request, partial=False)
            services.incident_controls_set(user=request.user, incident=incident, controls=data["controls"])
        response = Response({"controls": sorted(incident.controls.values_list("pk", flat=True))})
        response["ETag"] = current_incident_etag(incident)
        return response
