"""The repeat flags as stored, and as their definition gives them (worked out in Python)."""

from incidents import metrics
from incidents.models import Incident
from incidents.models.vocab import PrimaryCause


def expected_flags() -> dict[int, tuple[bool, bool]]:
    """(repeat_any, repeat_public) per incident, straight from the definition."""
    incidents = {i.pk: i for i in Incident.objects.prefetch_related("services")}
    services = {pk: {s.pk for s in i.services.all()} for pk, i in incidents.items()}
    flags = {}
    for pk, x in incidents.items():
        earlier = [
            y
            for other, y in incidents.items()
            if other != pk
            and x.primary_cause != PrimaryCause.UNDETERMINED
            and y.primary_cause == x.primary_cause
            and services[pk] & services[other]
            and x.started_at - metrics.REPEAT_WINDOW <= y.started_at < x.started_at
        ]
        flags[pk] = (bool(earlier), any(not y.restricted for y in earlier))
    return flags


def stored_flags() -> dict[int, tuple[bool, bool]]:
    return {pk: (a, p) for pk, a, p in Incident.objects.values_list("pk", "repeat_any", "repeat_public")}
