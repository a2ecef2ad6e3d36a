"""Access helpers: every view that touches an incident fetches it through here."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from incidents.models import CoeDocument, Incident


def incident_for(user, key: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    """The incident if this user may see it; 404 otherwise (never 403, which would confirm it exists)."""
    queryset = (queryset if queryset is not None else Incident.objects).visible_to(user)
    try:
        return queryset.get(key=key)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


def coe_for(user, key: str) -> CoeDocument:
    incident = incident_for(user, key)
    try:
        return CoeDocument.objects.select_related("incident", "owner", "approver").get(incident=incident)
    except CoeDocument.DoesNotExist:
        raise Http404("This incident has no COE yet.") from None


def require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(f"You need the {perm.split('.')[-1].replace('_', ' ')} permission.")
