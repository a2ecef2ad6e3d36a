"""The incident's times and its timeline are one truth.

An incident's start, detection, mitigation and resolution (incidents.times.MILESTONES) are each
also a timeline event of that kind. The rule that ties them, with no mark of its own on the event:

    The incident's own event for a milestone is the event of that kind at exactly the incident's
    time for it (the first by id if several are).

Every other event of the kind is another account of it (a source that disagrees) and stands beside
it, changing nothing. From that rule, the services keep both in step:

- Saving the incident's time moves its own event there, with the precision and the estimate (or
  creates the event, in the zone the times were typed in, if there is none); clearing the time
  removes the event.
- Creating or editing an event of the kind sets the incident's time, precision and estimate when
  the event is (or, while the incident has no own event for it, becomes) the incident's own.
  Giving the own event another kind hands the milestone on, as deleting it does.
- Deleting the own event hands the milestone to the earliest other event of the kind; without one
  the incident's time is cleared, except the start, which every incident has: that is refused.

The services (services/incidents.py) call these inside their transaction, the incident's row locked.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from incidents.models import Incident, TimelineEvent
from incidents.models.vocab import TimelineKind, TimePrecision
from incidents.times import MILESTONE_BY_KIND, MILESTONES, Milestone, anchor

# What an event made from one of the incident's times says, until someone writes more.
DESCRIPTIONS = {
    "start": "Impact began.",
    "detection": "The incident was detected.",
    "mitigation": "Impact was mitigated.",
    "resolution": "The incident was resolved.",
}

START_IS_REQUIRED = (
    "This event is the incident's start, which every incident has: change its time here or on the "
    "incident instead of removing it."
)


def stored_times(incident: Incident) -> dict[str, datetime | None]:
    """The incident's four times as stored (a form may already have changed the instance's)."""
    if not incident.pk:
        return {m.at: None for m in MILESTONES}
    return Incident.objects.filter(pk=incident.pk).values(*(m.at for m in MILESTONES)).get()


def normalize_incident_times(incident: Incident, zone: str) -> None:
    """Each time as its precision stores it (incidents.times.anchor): a date at 00:00 UTC."""
    for m in MILESTONES:
        setattr(incident, m.at, anchor(getattr(incident, m.at), getattr(incident, m.precision), zone))


def normalize_event_time(event: TimelineEvent) -> None:
    event.occurred_at = anchor(event.occurred_at, event.precision, event.display_tz)


def _own_event(incident: Incident, milestone: Milestone, at: datetime | None) -> TimelineEvent | None:
    if at is None:
        return None
    return incident.timeline.filter(kind=milestone.kind, occurred_at=at).order_by("id").first()


def events_follow_incident(incident: Incident, before: dict[str, datetime | None], *, zone: str) -> None:
    """After the incident is saved: each milestone's own event (found at the time `before` the write)
    moved to the incident's time, created, or removed with it."""
    for m in MILESTONES:
        at = getattr(incident, m.at)
        event = _own_event(incident, m, before[m.at]) or _own_event(incident, m, at)
        if at is None:
            if event is not None:
                event.delete()
            continue
        wanted = {
            "occurred_at": at,
            "precision": getattr(incident, m.precision),
            "estimated": getattr(incident, m.estimated),
        }
        if event is None:
            event = TimelineEvent(
                incident=incident, kind=m.kind, description=DESCRIPTIONS[m.kind], display_tz=zone or "UTC"
            )
        elif all(getattr(event, name) == value for name, value in wanted.items()):
            continue
        for name, value in wanted.items():
            setattr(event, name, value)
        event.full_clean()
        event.save()


def _set(changes: dict, milestone: Milestone, event: TimelineEvent | None) -> None:
    if event is None:
        changes.update({milestone.at: None, milestone.precision: TimePrecision.MINUTE, milestone.estimated: False})
    else:
        changes.update(
            {
                milestone.at: event.occurred_at,
                milestone.precision: event.precision,
                milestone.estimated: event.estimated,
            }
        )


def _successor(incident: Incident, milestone: Milestone, leaving: TimelineEvent) -> TimelineEvent | None:
    others = incident.timeline.filter(kind=milestone.kind).exclude(pk=leaving.pk)
    return others.order_by("occurred_at", "id").first()


def _hand_on(incident: Incident, milestone: Milestone, leaving: TimelineEvent, changes: dict) -> None:
    """The own event of `milestone` leaves it (deleted, or given another kind): the next one takes it."""
    successor = _successor(incident, milestone, leaving)
    if successor is None and milestone.kind == TimelineKind.START:
        raise ValidationError({"occurred_at": START_IS_REQUIRED})
    _set(changes, milestone, successor)


def incident_changes_for_event(
    event: TimelineEvent, *, was_kind: str | None, was_at: datetime | None, deleting: bool = False
) -> tuple[Incident, dict]:
    """The incident (its row locked) and what its time fields become now that `event` was written (or
    is about to be deleted), given the kind and time the event had before (None for a new one)."""
    incident = Incident.objects.select_for_update().get(pk=event.incident_id)
    changes: dict = {}
    was_milestone = MILESTONE_BY_KIND.get(was_kind)
    was_own = (
        was_milestone is not None
        and getattr(incident, was_milestone.at) == was_at
        and _first_at(event, was_kind, was_at)
    )
    if was_own and (deleting or event.kind != was_kind):
        _hand_on(incident, was_milestone, event, changes)
    milestone = MILESTONE_BY_KIND.get(event.kind)
    takes_it = milestone is not None and not deleting
    if takes_it and ((was_own and was_kind == event.kind) or _other_own_event(incident, milestone, event) is None):
        _set(changes, milestone, event)
    return incident, {name: value for name, value in changes.items() if getattr(incident, name) != value}


def _first_at(event: TimelineEvent, kind: str, at: datetime) -> bool:
    """Whether no event of `kind` at `at` came before `event` (so it was, or is, the one the rule picks)."""
    return not TimelineEvent.objects.filter(
        incident_id=event.incident_id, kind=kind, occurred_at=at, pk__lt=event.pk
    ).exists()


def _other_own_event(incident: Incident, milestone: Milestone, event: TimelineEvent) -> TimelineEvent | None:
    own = _own_event(incident, milestone, getattr(incident, milestone.at))
    return None if own is None or own.pk == event.pk else own
