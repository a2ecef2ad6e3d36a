"""Incidents and their timelines: one create and one update for the HTML form and the API alike."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from incidents import figures, repeats
from incidents.models import Incident, Region, Service, Tag, TimelineEvent

from . import times
from ._base import service, set_fields

# The incident's own fields a caller may set; keys of `data` outside these (and the lists
# below) are ignored. `owner` is a user; `access_group` a Group, a group's name, or None.
FIELDS = (
    "title",
    "summary",
    "severity",
    "status",
    "owner",
    "team",
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
_NULLABLE = {"owner", "team", "started_at", "detected_at", "mitigated_at", "resolved_at"}
# Not text: None is not "" for these.
_NOT_TEXT = _NULLABLE | {name for name in FIELDS if name.endswith(("_precision", "_estimated"))}


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


def _save_incident(*, user, incident: Incident, data: dict, events_follow: bool = True) -> Incident:
    # The repeat flags this write can move: of the incidents around it before the write and after it.
    before = repeats.around([incident.pk])
    times_before = times.stored_times(incident)
    set_fields(incident, data, FIELDS, text=set(FIELDS) - _NOT_TEXT)
    zone = data.get("times_zone") or "UTC"
    times.normalize_incident_times(incident, zone)
    if "access_group" in data:
        incident.access_group = _access_group(user, incident, data["access_group"])
    incident.full_clean(exclude=["key"])
    incident.save()
    if events_follow:
        times.events_follow_incident(incident, times_before, zone=zone)
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
    contributing_factors); owned by `user` unless `data` names an owner. Its times become its
    timeline's start, detection, mitigation and resolution events (services/times.py), created in
    the zone `data["times_zone"]` names (UTC if none)."""
    return _save_incident(user=user, incident=Incident(owner=user), data=data)


@service(dashboard=True)
def incident_update(*, user, incident: Incident, data: dict) -> Incident:
    """Change what `data` holds; a list given replaces the incident's list. A time changed moves its
    timeline event with it (services/times.py)."""
    return _save_incident(user=user, incident=incident, data=data)


# The timeline. The dashboard does not read it, except where an event is one of the incident's own
# times (services/times.py): then the incident changes with it, and the dashboard is told.

TIMELINE_FIELDS = (
    "occurred_at",
    "precision",
    "estimated",
    "display_tz",
    "kind",
    "actor_kind",
    "description",
    "source",
    "basis",
    "moment",
)


def _stored_event(event: TimelineEvent) -> tuple[str | None, object]:
    """The kind and time stored (a form may already have changed the instance's)."""
    if not event.pk:
        return None, None
    return TimelineEvent.objects.filter(pk=event.pk).values_list("kind", "occurred_at").get()


def _incident_follows(event: TimelineEvent, *, was: tuple, deleting: bool = False) -> None:
    """The incident's times after this event's write (services/times.py), refused beside the event's
    time when they would be out of order."""
    incident, changes = times.incident_changes_for_event(event, was_kind=was[0], was_at=was[1], deleting=deleting)
    if not changes:
        return
    try:
        _save_incident(user=None, incident=incident, data=changes, events_follow=False)
    except ValidationError as error:
        messages = [message for messages in error.message_dict.values() for message in messages]
        raise ValidationError({"occurred_at": messages}) from None
    figures.data_changed()


def _save_event(event: TimelineEvent, data: dict) -> TimelineEvent:
    was = _stored_event(event)
    set_fields(event, data, TIMELINE_FIELDS)
    event.full_clean()
    times.normalize_event_time(event)
    event.save()
    _incident_follows(event, was=was)
    return event


@service(dashboard=False)
def timeline_event_create(*, incident: Incident, data: dict) -> TimelineEvent:
    """Add an event; one of the start, detection, mitigation or resolution may set the incident's time."""
    return _save_event(TimelineEvent(incident=incident), data)


@service(dashboard=False)
def timeline_event_update(*, event: TimelineEvent, data: dict) -> TimelineEvent:
    return _save_event(event, data)


@service(dashboard=False)
def timeline_event_delete(*, event: TimelineEvent) -> None:
    """Remove an event; the incident's own start cannot be removed while no other start event exists."""
    _incident_follows(event, was=_stored_event(event), deleting=True)
    event.delete()
