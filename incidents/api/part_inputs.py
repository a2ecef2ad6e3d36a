"""What a tool may send to record an incident's parts: timeline events, sources, claims, AI involvement,
impact figures and action items. They validate (types, choices, lengths, a source the caller may see);
the services write (incidents.services) and the models' own rules answer there, as for the pages.

A source is cited by its id, as the API answers it (`source_id`, `evidence`, `sources[].id`), and must be
one the caller may see: a source that only incidents hidden from them cite is refused exactly like one
that does not exist.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import Source
from incidents.models.ai import CITABLE_AI_FIELDS
from incidents.models.bounds import in_near_future, validate_web_url
from incidents.models.vocab import (
    ActionClass,
    ActorKind,
    AIRole,
    AutonomyLevel,
    Basis,
    ClaimedAIRole,
    GateType,
    PermissionScope,
    PrimaryCause,
    SourceKind,
    Stance,
    TimelineKind,
    TimePrecision,
    TriState,
)
from incidents.text_limits import PROSE_MAX_LENGTH

from .serializers import BASIS_HELP


def _prose(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=PROSE_MAX_LENGTH, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class VisibleSourceField(serializers.PrimaryKeyRelatedField):
    """A source id, among the sources the caller may see (Source.objects.visible_to)."""

    default_error_messages = {
        "does_not_exist": "No source with id {pk_value}.",
        "incorrect_type": "A source is cited by its id, a number; got {data_type}.",
    }

    def get_queryset(self):
        return Source.objects.visible_to(self.context["request"].user)


class TimelineEventInputSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField(validators=[in_near_future])
    precision = serializers.ChoiceField(choices=TimePrecision.choices, required=False)
    estimated = serializers.BooleanField(required=False, help_text="The time is an estimate, not a report.")
    display_tz = serializers.CharField(max_length=64, required=False, help_text="An IANA zone, e.g. Europe/Berlin.")
    kind = serializers.ChoiceField(choices=TimelineKind.choices)
    actor_kind = serializers.ChoiceField(choices=ActorKind.choices, required=False)
    description = _prose()
    source = VisibleSourceField(required=False, allow_null=True)
    moment = serializers.SlugField(max_length=60, required=False, allow_blank=True)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False, help_text=BASIS_HELP)


class SourceInputSerializer(serializers.Serializer):
    """A source for an incident's list: a new address records it; a recorded one is reused and
    updated with the other fields given."""

    url = serializers.URLField(max_length=500, validators=[validate_web_url])
    title = serializers.CharField(max_length=300, required=False)
    publisher = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=SourceKind.choices, required=False)
    published_on = serializers.DateField(required=False, allow_null=True, validators=[in_near_future])
    published_approx = serializers.BooleanField(required=False)
    retrieved_on = serializers.DateField(required=False, allow_null=True, validators=[in_near_future])
    note = _prose(required=False, allow_blank=True)


class ClaimInputSerializer(serializers.Serializer):
    source = VisibleSourceField()
    claimant = serializers.CharField(max_length=200)
    stance = serializers.ChoiceField(choices=Stance.choices)
    claimed_cause = serializers.ChoiceField(choices=PrimaryCause.choices, required=False, allow_blank=True)
    claimed_ai_role = serializers.ChoiceField(choices=ClaimedAIRole.choices, required=False, allow_blank=True)
    statement = _prose()
    quote = _prose(required=False, allow_blank=True)


class AIInvolvementInputSerializer(serializers.Serializer):
    agent_name = serializers.CharField(max_length=120)
    vendor = serializers.CharField(max_length=120, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=AIRole.choices)
    autonomy_level = serializers.ChoiceField(choices=AutonomyLevel.choices, required=False, allow_blank=True)
    gate_present = serializers.ChoiceField(choices=TriState.choices, required=False)
    gate_type = serializers.ChoiceField(choices=GateType.choices, required=False)
    gate_bypassed = serializers.ChoiceField(choices=TriState.choices, required=False)
    permissions_held = serializers.ChoiceField(choices=PermissionScope.choices, required=False)
    permissions_inherited = serializers.ChoiceField(choices=TriState.choices, required=False)
    action_taken = _prose(required=False, allow_blank=True)
    action_class = serializers.ChoiceField(choices=ActionClass.choices, required=False, allow_blank=True)
    reversible = serializers.ChoiceField(choices=TriState.choices, required=False)
    excessive_functionality = serializers.BooleanField(required=False)
    excessive_permissions = serializers.BooleanField(required=False)
    excessive_autonomy = serializers.BooleanField(required=False)
    evidence = serializers.ListField(
        child=VisibleSourceField(), required=False, max_length=50, help_text="Ids of sources; replaces the list."
    )
    citations = serializers.DictField(
        child=VisibleSourceField(allow_null=True),
        required=False,
        help_text=(
            "The source stating each field, by id: {field: source id}, for "
            f"{', '.join(CITABLE_AI_FIELDS)}. A field given replaces its citation (null removes it); "
            "fields not given keep theirs."
        ),
    )

    def validate_citations(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(CITABLE_AI_FIELDS))
        if unknown:
            raise serializers.ValidationError(
                f"No source can be cited for {', '.join(unknown)}; citable: {', '.join(CITABLE_AI_FIELDS)}."
            )
        return value


class ImpactFigureInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    value = serializers.DecimalField(max_digits=20, decimal_places=2)
    unit = serializers.CharField(max_length=40, required=False, allow_blank=True)
    is_estimate = serializers.BooleanField(required=False)
    as_of = serializers.DateTimeField(required=False, allow_null=True, validators=[in_near_future])
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    source = VisibleSourceField(required=False, allow_null=True)
    basis = serializers.ChoiceField(choices=Basis.choices, required=False, help_text=BASIS_HELP)
