"""Output serializers (what clients read) and input serializers (what they may send).

Output serializers only read prefetched data; each viewset's queryset does
the joins they need, so a list page costs the same number of queries at any size.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import (
    ActionItem,
    AIInvolvement,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    Region,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)
from incidents.models.bounds import in_near_future, in_planning_horizon, validate_web_url
from incidents.models.coe import SECTION_KEYS, SECTION_MAX_LENGTH, SECTIONS, section_too_long_message
from incidents.models.vocab import (
    ActionStatus,
    ActionType,
    AttributionStatus,
    Basis,
    ContributingFactor,
    HarmLevel,
    IncidentStatus,
    PrimaryCause,
    Priority,
    Severity,
    TimePrecision,
    TriggerKind,
)
from incidents.text_limits import text_max_length


def cited_sources(incident: Incident) -> QuerySet[Source]:
    """The sources an incident lists or any of its records cites, as detail.py selects them."""
    cited = Q(incidents=incident) | Q(claims__incident=incident) | Q(timeline_events__incident=incident)
    cited |= Q(impactfigure__incident=incident) | Q(action_items__incident=incident)
    cited |= Q(ai_involvements__incident=incident) | Q(ai_field_citations__involvement__incident=incident)
    cited |= Q(pk=incident.reported_duration_source_id)
    ids = Source.objects.filter(cited).values("pk")
    return Source.objects.filter(pk__in=ids).order_by("published_on", "publisher", "id")


BASIS_HELP = (
    "Whose statement this is: reported (its source says it; for a team's own incident, its responders "
    "recorded it) or ours: reading, classification, proposal, or demo (a demo value)."
)
DEMO_HELP = (
    "Demo data (the seeded knowledge base): its COE approvals and its action items' progress were made by "
    "demo users, not the company."
)


def _seconds(delta):
    return int(delta.total_seconds()) if delta is not None else None


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "url", "title", "publisher", "kind", "published_on", "published_approx", "retrieved_on", "note"]


class ClaimSerializer(serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="key", read_only=True)
    source = SourceSerializer(read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "incident",
            "claimant",
            "stance",
            "claimed_cause",
            "claimed_ai_role",
            "statement",
            "quote",
            "source",
        ]


class ImpactFigureSerializer(serializers.ModelSerializer):
    source_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = ImpactFigure
        fields = ["id", "name", "value", "unit", "is_estimate", "as_of", "note", "source_id", "basis"]
        extra_kwargs = {"basis": {"help_text": BASIS_HELP}}


class TimelineEventSerializer(serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="key", read_only=True)
    source_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "incident",
            "occurred_at",
            "precision",
            "estimated",
            "display_tz",
            "kind",
            "actor_kind",
            "description",
            "moment",
            "source_id",
            "basis",
        ]
        extra_kwargs = {"basis": {"help_text": BASIS_HELP}}


class AIInvolvementSerializer(serializers.ModelSerializer):
    cset_autonomy = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    citations = serializers.SerializerMethodField(help_text="The source cited for each field: {field: source id}.")

    class Meta:
        model = AIInvolvement
        fields = [
            "id",
            "agent_name",
            "vendor",
            "role",
            "autonomy_level",
            "cset_autonomy",
            "gate_present",
            "gate_type",
            "gate_bypassed",
            "permissions_held",
            "permissions_inherited",
            "action_taken",
            "action_class",
            "reversible",
            "excessive_functionality",
            "excessive_permissions",
            "excessive_autonomy",
            "evidence",
            "citations",
        ]

    def get_cset_autonomy(self, obj) -> str | None:
        return obj.cset_autonomy.value if obj.cset_autonomy else None

    def get_evidence(self, obj) -> list[int]:
        return [s.pk for s in obj.evidence.all()]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_citations(self, obj) -> dict[str, int]:
        return {c.field: c.source_id for c in sorted(obj.citations.all(), key=lambda c: c.field)}


class ActionItemSerializer(serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="key", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    is_overdue = serializers.SerializerMethodField()
    demo = serializers.BooleanField(source="incident.demo", read_only=True, help_text=DEMO_HELP)

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "incident",
            "title",
            "description",
            "action_type",
            "priority",
            "status",
            "owner",
            "due_date",
            "is_overdue",
            "ticket_url",
            "answers_why",
            "source_id",
            "disputed",
            "basis",
            "demo",
            "completed_at",
            "updated_at",
        ]
        extra_kwargs = {"basis": {"help_text": BASIS_HELP}}

    def get_is_overdue(self, obj) -> bool:
        return obj.is_overdue()


class ControlSerializer(serializers.ModelSerializer):
    incidents = serializers.SerializerMethodField()
    sources = serializers.SerializerMethodField()

    class Meta:
        model = Control
        fields = [
            "id",
            "name",
            "description",
            "scope",
            "owner_name",
            "status",
            "starts_on",
            "ends_on",
            "disputed",
            "dispute_note",
            "incidents",
            "sources",
            "basis",
        ]
        extra_kwargs = {"basis": {"help_text": BASIS_HELP}}

    def get_incidents(self, obj) -> list[str]:
        # Only incidents the caller may see: a control must not reveal a restricted one.
        visible = self.context.get("visible_incident_ids")
        return [i.key for i in obj.incidents.all() if visible is None or i.pk in visible]

    def get_sources(self, obj) -> list[int]:
        return [s.pk for s in obj.sources.all()]


PRECISION_HELP = (
    "How precisely the time is known. A time known to the day, month or quarter is a date: stored and given "
    "as 00:00 UTC of that day (of the month's or quarter's first day)."
)


class IncidentListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    services = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    regions = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    ai_involved = serializers.BooleanField(source="has_ai", read_only=True)
    coe_status = serializers.SerializerMethodField()
    time_to_detect_seconds = serializers.SerializerMethodField()
    time_to_mitigate_seconds = serializers.SerializerMethodField()
    time_to_resolve_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "key",
            "url",
            "title",
            "severity",
            "status",
            "primary_cause",
            "attribution_status",
            "adopted_cause",
            "harm_level",
            # Each time with how precisely it is known (the start's is time_precision) and whether
            # it is an estimate: a time known to the day is stored at 00:00 UTC of that day.
            "started_at",
            "time_precision",
            "started_estimated",
            "detected_at",
            "detected_precision",
            "detected_estimated",
            "mitigated_at",
            "mitigated_precision",
            "mitigated_estimated",
            "resolved_at",
            "resolved_precision",
            "resolved_estimated",
            "time_to_detect_seconds",
            "time_to_mitigate_seconds",
            "time_to_resolve_seconds",
            "services",
            "regions",
            "ai_involved",
            "restricted",
            "demo",
            "coe_status",
            "updated_at",
        ]
        # The schema says what each precision means and how a date is stored.
        extra_kwargs = {
            **{
                name: {"help_text": PRECISION_HELP}
                for name in ("time_precision", "detected_precision", "mitigated_precision", "resolved_precision")
            },
            "demo": {"help_text": DEMO_HELP},
        }

    def get_url(self, obj) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:incident-detail", kwargs={"key": obj.key}))

    def get_coe_status(self, obj) -> str | None:
        try:
            return obj.coe.status
        except Incident.coe.RelatedObjectDoesNotExist:
            return None

    def get_time_to_detect_seconds(self, obj) -> int | None:
        return _seconds(obj.time_to_detect)

    def get_time_to_mitigate_seconds(self, obj) -> int | None:
        return _seconds(obj.time_to_mitigate)

    def get_time_to_resolve_seconds(self, obj) -> int | None:
        return _seconds(obj.time_to_resolve)


class IncidentDetailSerializer(IncidentListSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    team = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="The team that owns it (its approvers review)."
    )
    contributing_factors = serializers.SerializerMethodField()
    impact_figures = ImpactFigureSerializer(many=True, read_only=True)
    timeline = TimelineEventSerializer(many=True, read_only=True)
    ai_involvements = AIInvolvementSerializer(many=True, read_only=True)
    claims = ClaimSerializer(many=True, read_only=True)
    sources = serializers.SerializerMethodField(
        help_text="The sources the incident lists and those any of its records cites, oldest first."
    )
    controls = serializers.SerializerMethodField(help_text="Ids of the controls the incident led to.")
    reported_duration_seconds = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta(IncidentListSerializer.Meta):
        fields = [
            *IncidentListSerializer.Meta.fields,
            "summary",
            "customer_impact",
            "trigger_kind",
            "trigger_text",
            "contributing_factors",
            "adopted_cause_rationale",
            "reported_duration_seconds",
            "tags",
            "owner",
            "team",
            "impact_figures",
            "timeline",
            "ai_involvements",
            "claims",
            "sources",
            "controls",
            "links",
            "created_at",
        ]

    def get_contributing_factors(self, obj) -> list[str]:
        return [f.factor for f in obj.factors.all()]

    @extend_schema_field(SourceSerializer(many=True))
    def get_sources(self, obj) -> list[dict]:
        return SourceSerializer(cited_sources(obj), many=True).data

    def get_controls(self, obj) -> list[int]:
        return sorted(control.pk for control in obj.controls.all())

    def get_reported_duration_seconds(self, obj) -> int | None:
        return _seconds(obj.reported_duration)

    def get_links(self, obj) -> dict[str, str | None]:
        request = self.context["request"]
        absolute = request.build_absolute_uri
        has_coe = self.get_coe_status(obj) is not None
        return {
            "html": absolute(obj.get_absolute_url()),
            "coe": absolute(reverse("api:coe-detail", kwargs={"key": obj.key})) if has_coe else None,
            "action_items": absolute(reverse("api:actionitem-list")) + f"?incident={obj.key}",
        }


class CoeSerializer(serializers.ModelSerializer):
    incident = serializers.SlugRelatedField(slug_field="key", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    authors = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = CoeDocument
        fields = [
            "incident",
            "status",
            "version",
            "owner",
            "authors",
            "approver",
            *SECTION_KEYS,
            "whys",
            "created_at",
            "updated_at",
            "submitted_at",
            "approved_at",
            "published_at",
        ]


# Input serializers. They validate; services write (incidents.services).


def _prose_limit(model, name: str) -> int:
    """The most characters a text column takes at the edge, the pages' forms' limit too (text_limits.py)."""
    return text_max_length(model._meta.get_field(name))


def _names(column, label: str) -> serializers.ListField:
    """A list of names, each within the limit of the column it is stored in, the message naming the list."""
    child = serializers.SlugField if column.get_internal_type() == "SlugField" else serializers.CharField
    too_long = {"max_length": f"{label} are at most {{max_length}} characters."}
    return serializers.ListField(
        child=child(max_length=column.max_length, error_messages=too_long), required=False, max_length=50
    )


class IncidentInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=_prose_limit(Incident, "summary"))
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    started_at = serializers.DateTimeField(validators=[in_near_future])
    time_precision = serializers.ChoiceField(
        choices=TimePrecision.choices, required=False, help_text="How exactly the start is known."
    )
    started_estimated = serializers.BooleanField(required=False, help_text="The start is an estimate.")
    detected_at = serializers.DateTimeField(required=False, allow_null=True, validators=[in_near_future])
    detected_precision = serializers.ChoiceField(choices=TimePrecision.choices, required=False)
    detected_estimated = serializers.BooleanField(required=False)
    mitigated_at = serializers.DateTimeField(required=False, allow_null=True, validators=[in_near_future])
    mitigated_precision = serializers.ChoiceField(choices=TimePrecision.choices, required=False)
    mitigated_estimated = serializers.BooleanField(required=False)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True, validators=[in_near_future])
    resolved_precision = serializers.ChoiceField(choices=TimePrecision.choices, required=False)
    resolved_estimated = serializers.BooleanField(required=False)
    customer_impact = serializers.CharField(
        required=False, allow_blank=True, max_length=_prose_limit(Incident, "customer_impact")
    )
    primary_cause = serializers.ChoiceField(choices=PrimaryCause.choices, required=False)
    trigger_kind = serializers.ChoiceField(choices=TriggerKind.choices, required=False, allow_blank=True)
    trigger_text = serializers.CharField(
        required=False, allow_blank=True, max_length=_prose_limit(Incident, "trigger_text")
    )
    harm_level = serializers.ChoiceField(choices=HarmLevel.choices, required=False)
    attribution_status = serializers.ChoiceField(choices=AttributionStatus.choices, required=False)
    adopted_cause = serializers.ChoiceField(choices=PrimaryCause.choices, required=False, allow_blank=True)
    adopted_cause_rationale = serializers.CharField(
        required=False, allow_blank=True, max_length=_prose_limit(Incident, "adopted_cause_rationale")
    )
    contributing_factors = serializers.ListField(
        child=serializers.ChoiceField(choices=ContributingFactor.choices), required=False, max_length=30
    )
    services = _names(Service._meta.get_field("name"), "Service names")
    regions = _names(Region._meta.get_field("code"), "Region codes")
    tags = _names(Tag._meta.get_field("name"), "Tags")
    restricted = serializers.BooleanField(required=False)
    access_group = serializers.CharField(required=False, allow_null=True, max_length=150)
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="The owning team's slug: its approvers are asked to review the COE.",
    )


class ActionItemInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=_prose_limit(ActionItem, "description")
    )
    action_type = serializers.ChoiceField(choices=ActionType.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    status = serializers.ChoiceField(choices=ActionStatus.choices, required=False)
    owner = serializers.CharField(required=False, allow_null=True, max_length=150)
    due_date = serializers.DateField(required=False, allow_null=True, validators=[in_planning_horizon])
    ticket_url = serializers.URLField(required=False, allow_blank=True, max_length=500, validators=[validate_web_url])
    answers_why = serializers.CharField(
        required=False, allow_blank=True, max_length=_prose_limit(ActionItem, "answers_why")
    )
    basis = serializers.ChoiceField(choices=Basis.choices, required=False, help_text=BASIS_HELP)

    def validate_owner(self, value):
        """The username, as the user services.action_item_update takes."""
        if not value:
            return None
        owner = get_user_model().objects.filter(username=value).first()
        if owner is None:
            raise serializers.ValidationError(f"No user named {value!r}.")
        return owner


class CoeInputSerializer(serializers.Serializer):
    whys = serializers.ListField(child=serializers.DictField(), required=False, max_length=20)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in SECTIONS:
            self.fields[section.key] = serializers.CharField(
                required=False,
                allow_blank=True,
                max_length=SECTION_MAX_LENGTH,
                error_messages={"max_length": section_too_long_message(section)},
            )

    def validate_whys(self, value):
        for number, chain in enumerate(value, start=1):
            links = chain.get("links")
            if not isinstance(chain.get("cause", ""), str) or not isinstance(links, list):
                raise serializers.ValidationError(f"Chain {number} needs a 'cause' text and a 'links' list.")
            if not all(isinstance(link, str) for link in links):
                raise serializers.ValidationError(f"Chain {number}: every link must be text.")
        return [{"cause": c.get("cause", ""), "links": c["links"]} for c in value]


# The error shape (errors.py), for the schema.


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="Stable: invalid, not_authenticated, permission_denied, not_found, ...")
    detail = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Validation errors only: messages by field (or query parameter) name.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
