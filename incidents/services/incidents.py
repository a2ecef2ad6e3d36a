"""Incidents and their timelines: one create and one update for the HTML form and the API alike."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from incidents import repeats
from incidents.models import Incident, Region, Service, Tag, TimelineEvent

from ._base import service, set_fields

# The incident's own fields a caller may set; keys of `data` outside these (and the lists
# below) are ignored. `owner` is a user; `access_group` a Group, a group's name, or None.
FIELDS = (
    "title",
    "summary",
    "severity",
    "status",
    "owner",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "customer_impact",
    "primary_cause",
    "trigger_kind",
    "trigger_text",
    "harm_level",
    "attribution_status",
    "adopted_cause",
    "adopted_cause_rationale",
    "restricted",
)
# Fields that may be empty rather than NULL: None means "".
_NULLABLE = {"owner", "started_at", "detected_at", "mitigated_at", "resolved_at"}


def access_groups_for(user, *, current_group_id: int | None = None) -> QuerySet[Group]:
    """The groups `user` may restrict an incident to: the one rule, for the form's choices and every save.

    A superuser may pick any group; anyone else only a group they belong to, so nobody hides an
    incident from themselves. The incident's current group may stay: an owner outside it can save
    the incident without dropping or changing its restriction.
    """
    if user.is_superuser:
        return Group.objects.all()
    return Group.objects.filter(Q(user=user) | Q(pk=current_group_id)).distinct()


def _access_group(user, incident: Incident, wanted: Group | str | None) -> Group | None:
    if wanted in (None, ""):
        return None
    # The group stored, not one a form may already have put on the instance.
    stored = (
        Incident.objects.filter(pk=incident.pk).values_list("access_group_id", flat=True).first()
        if incident.pk
        else None
    )
    allowed = access_groups_for(user, current_group_id=stored)
    group = allowed.filter(pk=wanted.pk).first() if isinstance(wanted, Group) else allowed.filter(name=wanted).first()
    if group is None:
        name = wanted.name if isinstance(wanted, Group) else wanted
        raise ValidationError({"access_group": f"You are not a member of a group named {name!r}."})
    return group


def _save_incident(*, user, incident: Incident, data: dict) -> Incident:
    # The repeat flags this write can move: of the incidents around it before the write and after it.
    before = repeats.around([incident.pk])
    set_fields(incident, data, FIELDS, text=set(FIELDS) - _NULLABLE)
    if "access_group" in data:
        incident.access_group = _access_group(user, incident, data["access_group"])
    incident.full_clean(exclude=["key"])
    incident.save()
    if "services" in data:
        incident.services.set([Service.objects.get_or_create(name=name)[0] for name in data["services"]])
    if "regions" in data:
        incident.regions.set([Region.objects.get_or_create(code=code)[0] for code in data["regions"]])
    if "tags" in data:
        incident.tags.set([Tag.objects.get_or_create(name=name.lower())[0] for name in data["tags"]])
    if "contributing_factors" in data:
        wanted = set(data["contributing_factors"])
        incident.factors.exclude(factor__in=wanted).delete()
        have = set(incident.factors.values_list("factor", flat=True))
        for factor in wanted - have:
            incident.factors.create(factor=factor)
    repeats.refresh(before | repeats.around([incident.pk]))
    return incident


@service(dashboard=True)
def incident_create(*, user, data: dict) -> Incident:
    """Record an incident from `data` (its fields, and the lists services, regions, tags and
    contributing_factors); owned by `user` unless `data` names an owner."""
    return _save_incident(user=user, incident=Incident(owner=user), data=data)


@service(dashboard=True)
def incident_update(*, user, incident: Incident, data: dict) -> Incident:
    """Change what `data` holds; a list given replaces the incident's list."""
    return _save_incident(user=user, incident=incident, data=data)


# The timeline. The dashboard does not read it, so these leave its figures alone.

TIMELINE_FIELDS = ("occurred_at", "precision", "display_tz", "kind", "actor_kind", "description", "source", "moment")


def _save_event(event: TimelineEvent, data: dict) -> TimelineEvent:
    set_fields(event, data, TIMELINE_FIELDS)
    event.full_clean()
    event.save()
    return event


@service(dashboard=False)
def timeline_event_create(*, incident: Incident, data: dict) -> TimelineEvent:
    return _save_event(TimelineEvent(incident=incident), data)


@service(dashboard=False)
def timeline_event_update(*, event: TimelineEvent, data: dict) -> TimelineEvent:
    return _save_event(event, data)


@service(dashboard=False)
def timeline_event_delete(*, event: TimelineEvent) -> None:
    event.delete()
