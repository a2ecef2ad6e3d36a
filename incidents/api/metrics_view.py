"""GET /api/v1/metrics/: the dashboard's figures, for BI tools, from the same code."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import figures
from incidents.metrics import Period, Scope
from incidents.models import Team
from incidents.models.bounds import in_stored_range
from incidents.models.vocab import Severity

from .permissions import TokenScopeAllows
from .schema import ApiAutoSchema


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, validators=[in_stored_range], help_text="First day of the period (incident start dates)."
    )
    end = serializers.DateField(
        required=False, validators=[in_stored_range], help_text="Day after the period ends (exclusive)."
    )
    service = serializers.ListField(child=serializers.CharField(max_length=120), required=False)
    region = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    severity = serializers.ListField(child=serializers.ChoiceField(choices=Severity.choices), required=False)
    team = serializers.SlugField(required=False, max_length=Team._meta.get_field("slug").max_length)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "The end must come after the start."})
        return attrs

    def to_scope(self) -> Scope:
        data = self.validated_data
        return Scope(
            period=Period(data.get("start"), data.get("end")),
            services=tuple(data.get("service", ())),
            regions=tuple(data.get("region", ())),
            severities=tuple(data.get("severity", ())),
            team=data.get("team"),
        )


def scope_from_query(query_params) -> MetricsQuerySerializer:
    """Parse ?start=&end=&service=a&service=b... (lists may repeat)."""
    data = {key: query_params.get(key) for key in ("start", "end", "team") if query_params.get(key)}
    for key in ("service", "region", "severity"):
        values = [v for v in query_params.getlist(key) if v]
        if values:
            data[key] = values
    serializer = MetricsQuerySerializer(data=data)
    return serializer


class MetricsView(APIView):
    permission_classes = [IsAuthenticated, TokenScopeAllows]
    schema = ApiAutoSchema()

    @extend_schema(parameters=[MetricsQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        unknown = set(request.query_params) - {"start", "end", "service", "region", "severity", "team"}
        if unknown:
            raise serializers.ValidationError({name: ["Unknown parameter."] for name in sorted(unknown)})
        serializer = scope_from_query(request.query_params)
        serializer.is_valid(raise_exception=True)
        return Response(figures.dashboard(request.user, serializer.to_scope()).metrics)
