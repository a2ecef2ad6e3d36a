"""Importing one earlier postmortem (an `ImportedIncident`): its incident, COE, timeline and action items.

One transaction per postmortem, through the same services as the pages, so the change history, the
repeat flags and the dashboard follow as they do for anything typed in. What makes it an import:

- The incident is marked imported (`imported_at`, `import_origin`) and keeps the file's own dates:
  the incident's and COE's `created_at` are when the postmortem was written (else when the incident
  started), each action item's when it was raised and closed. An item the file shows closed with no
  date of its own is taken as closed when the postmortem was written: on no account on import day.
- Its `external_id` (the front matter's id, the page's URL, or the content's hash) finds it again: a
  second import of the same content changes nothing; of changed content updates the incident and its
  COE (the COE's revisions keep what it said before) and adds events and items not there yet, leaving
  those recorded here alone.
- Headings the mapping does not place, and anything else a reader kept as a note, are appended to the
  COE's Related items under "Imported notes", verbatim: nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from incidents.imports.records import ImportedIncident
from incidents.models import ActionItem, CoeDocument, CoeRevision, ImportJob, Incident, Team, TimelineEvent
from incidents.models.bounds import validate_web_url
from incidents.models.coe import SECTION_KEYS
from incidents.models.vocab import (
    ACTION_STATUSES_CLOSED,
    ActionStatus,
    ActionType,
    CoeStatus,
    IncidentStatus,
    Priority,
    Severity,
    TimelineKind,
)
from incidents.times import DATE_PRECISIONS, MILESTONE_BY_KIND, MILESTONES, PreciseTime

from . import times
from ._base import service
from .coe import coe_snapshot
from .incidents import _save_incident, timeline_event_create

DEFAULT_SEVERITY = Severity.SEV3
TITLE_MAX = Incident._meta.get_field("title").max_length
NOTES_HEADING = "Imported notes"
# The revision an import writes names the content it came from; a later import of the same content
# finds it there and changes nothing.
_REVISION_NOTE = "Imported, content sha256:{digest}, from {origin}"
_DIGEST_IN_NOTE = re.compile(r"^Imported, content sha256:([0-9a-f]{64})")


# A spreadsheet's row, as its reader names it ("incidents.csv row 12").
_ROW = re.compile(r" row \d+$")


class ImportRefused(Exception):
    """The postmortem cannot be imported as it is; the message says why."""


@dataclass
class ImportOutcome:
    action: str  # "create", "update" or "unchanged"
    incident: Incident | None
    warnings: list[str] = field(default_factory=list)


def content_digest(item: ImportedIncident) -> str:
    """What the file says, independent of where it was read from."""
    said = asdict(item)
    for kept_apart in ("origin", "mapped", "warnings"):
        said.pop(kept_apart)
    return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()


@service(dashboard=True)
def incident_import(*, item: ImportedIncident, user) -> ImportOutcome:
    """Create or update the incident `item` describes (see the module's docstring). `user` owns what it
    creates and is the actor of every change on the record (None: the command line, acting for the
    site). Raises ImportRefused or ValidationError with the reason the file cannot be imported."""
    warnings: list[str] = []
    if not item.external_id:
        raise ImportRefused("The file gives no id and no content to identify it by.")
    digest = content_digest(item)
    existing = Incident.objects.select_for_update().filter(external_id=item.external_id).first()
    if existing is not None:
        if existing.imported_at is None or (user is not None and not existing.is_visible_to(user)):
            raise ImportRefused(f"Another incident already uses the id {item.external_id!r}.")
        if _imported_digest(existing) == digest:
            return ImportOutcome("unchanged", existing, warnings)
    data = _incident_data(item, warnings, new=existing is None)
    _milestones_from_events(item, data, warnings)
    written_at = item.created_at or item.started_at
    if existing is None:
        incident = Incident(
            owner=user,
            external_id=item.external_id,
            imported_at=timezone.now(),
            import_origin=item.origin[:500],
            created_at=written_at,
        )
        action = "create"
    else:
        incident, action = existing, "update"
        incident.import_origin = item.origin[:500]
    # A new incident's own milestone events are written with the rest of its timeline (_timeline).
    incident = _save_incident(user=user, incident=incident, data=data, events_follow=action == "update")
    _timeline(incident, item, new=action == "create")
    _action_items(incident, item, user=user, written_at=written_at, new=action == "create")
    _coe(incident, item, user=user, written_at=written_at, digest=digest, new=action == "create")
    return ImportOutcome(action, incident, warnings)


def _imported_digest(incident: Incident) -> str | None:
    note = (
        CoeRevision.objects.filter(coe__incident=incident, note__startswith="Imported, content")
        .order_by("-number")
        .values_list("note", flat=True)
        .first()
    )
    match = _DIGEST_IN_NOTE.match(note or "")
    return match.group(1) if match else None


def _incident_data(item: ImportedIncident, warnings: list[str], *, new: bool) -> dict:
    if item.started_at is None:
        raise ImportRefused(
            "No start date: give one in the front matter (start_time or date), a dated timeline line, "
            "or a date in the file's name."
            if not _ROW.search(item.origin)
            else "No start date: map a column to the start, or fill its cell."
        )
    title = item.title.strip()
    if not title:
        title = f"Imported: {item.origin}"
        warnings.append("Missing title: named after where it was imported from.")
    if len(title) > TITLE_MAX:
        warnings.append(f"Title longer than {TITLE_MAX} characters: shortened (the full title is in the summary).")
        item.summary = "\n\n".join(filter(None, (title, item.summary)))
        title = title[: TITLE_MAX - 1] + "…"
    severity = item.severity
    if severity not in Severity.values:
        severity = DEFAULT_SEVERITY
        warnings.append(f"No severity given: recorded as {DEFAULT_SEVERITY}.")
    data = {
        "title": title,
        "summary": item.summary,
        "severity": severity,
        # A postmortem was written: the incident is over unless the file says otherwise.
        "status": item.status or IncidentStatus.CLOSED,
        "started_at": item.started_at,
        "time_precision": item.time_precision,
        "started_estimated": item.started_estimated,
        "detected_at": item.detected_at,
        "mitigated_at": item.mitigated_at,
        "resolved_at": item.resolved_at,
        "customer_impact": item.customer_impact,
        "primary_cause": item.primary_cause or "undetermined",
    }
    lists = {
        "services": _names(item.services, Incident.services.field.related_model, "name"),
        "regions": _names(item.regions, Incident.regions.field.related_model, "code"),
        "tags": list(dict.fromkeys(filter(None, (slugify(tag)[:60] for tag in item.tags)))),
    }
    # A list given replaces the incident's; an empty one on a new incident would only cost queries.
    data.update({name: names for name, names in lists.items() if names or not new})
    if item.team:
        team = Team.objects.filter(Q(name__iexact=item.team) | Q(slug=slugify(item.team))).first()
        if team is None:
            warnings.append(f"No team named {item.team!r}: the incident has no owning team.")
        data["team"] = team
    return data


def _names(names: list[str], model, column: str) -> list[str]:
    limit = model._meta.get_field(column).max_length
    return list(dict.fromkeys(name[:limit] for name in names if name))


def _milestones_from_events(item: ImportedIncident, data: dict, warnings: list[str]) -> None:
    """The incident's detection, mitigation and resolution from the first event of each kind, where the
    file gives no such time (as the timeline's rule would set them, services/times.py), in one save.
    An event that would put them out of order stays an event of its own, as context."""
    # A start the file gives to the day (a front matter date) is refined by its timeline's start line
    # that day, stated to the minute.
    start_line = next((e for e in item.timeline if e.kind == MILESTONES[0].kind), None)
    if (
        start_line is not None
        and data["time_precision"] in DATE_PRECISIONS
        and start_line.precision not in DATE_PRECISIONS
        and PreciseTime(data["started_at"], data["time_precision"]).span()[0]
        <= start_line.occurred_at
        < PreciseTime(data["started_at"], data["time_precision"]).span()[1]
    ):
        data["started_at"], data["time_precision"] = start_line.occurred_at, start_line.precision
    previous = data["started_at"]
    for milestone in MILESTONES[1:]:
        given = data.get(milestone.at)
        if given is None:
            event = next((e for e in item.timeline if e.kind == milestone.kind), None)
            if event is not None and event.occurred_at >= previous:
                data[milestone.at], data[milestone.precision] = event.occurred_at, event.precision
                given = event.occurred_at
            elif event is not None:
                warnings.append(
                    f"The {milestone.name} line {event.description[:60]!r} comes before the start: kept as context."
                )
                event.kind = TimelineKind.CONTEXT
        previous = given or previous


def _timeline(incident: Incident, item: ImportedIncident, *, new: bool) -> None:
    """Each event the file tells that is not there yet.

    The incident's own events for its start, detection, mitigation and resolution (services/times.py)
    carry what the file's line at that time says. For a new incident they are written here, as the
    timeline's rule has them (of the milestone's kind, at the incident's time, with its precision);
    events of no milestone's kind leave the incident as it is. Both are saved here rather than one
    by one through timeline_event_create, which checks that rule per event: a large import is spared
    those queries, and the model's own validation runs as for any event."""
    events = list(item.timeline)
    have = set() if new else set(incident.timeline.values_list("occurred_at", "description"))
    for milestone in MILESTONES:
        at = getattr(incident, milestone.at)
        if at is None:
            continue
        told = next((e for e in events if e.occurred_at == at and e.kind in (milestone.kind, "context")), None)
        if told is not None:
            events.remove(told)
        if new:
            _add_event(
                incident,
                occurred_at=at,
                precision=getattr(incident, milestone.precision),
                estimated=getattr(incident, milestone.estimated),
                kind=milestone.kind,
                description=told.description if told else times.DESCRIPTIONS[milestone.kind],
            )
        elif told is not None and (at, told.description) not in have:
            own = incident.timeline.filter(kind=milestone.kind, occurred_at=at).order_by("id").first()
            if own is not None and own.description in times.DESCRIPTIONS.values():
                own.description = told.description
                own.save(update_fields=["description"])
            else:
                events.append(told)
    for event in events:
        if (event.occurred_at, event.description) in have:
            continue
        have.add((event.occurred_at, event.description))
        kind = event.kind if event.kind in TimelineKind.values else TimelineKind.CONTEXT
        data = {"occurred_at": event.occurred_at, "precision": event.precision, "kind": kind}
        if kind in MILESTONE_BY_KIND:
            # Another account of a milestone: the timeline's rule decides whether it moves the incident.
            timeline_event_create(incident=incident, data={**data, "description": event.description})
        else:
            _add_event(incident, estimated=False, description=event.description, **data)


def _add_event(incident: Incident, **fields) -> None:
    event = TimelineEvent(incident=incident, display_tz="UTC", **fields)
    event.full_clean(exclude=["incident", "source"], validate_constraints=False)
    times.normalize_event_time(event)
    event.save()


# An item's type from its title's words, when the file gives none; the first that matches wins.
_TYPE_WORDS = (
    (ActionType.DETECT, ("alert", "alarm", "monitor", "dashboard", "detect", "observability", "metric", "page")),
    (ActionType.MITIGATE, ("rollback", "roll back", "failover", "mitigate", "workaround", "restore")),
    (ActionType.PROCESS, ("runbook", "document", "wiki", "process", "train", "checklist", "postmortem", "review")),
)


def _action_type(title: str) -> str:
    lowered = title.lower()
    for kind, words in _TYPE_WORDS:
        if any(word in lowered for word in words):
            return kind
    return ActionType.PREVENT


def _action_items(incident: Incident, item: ImportedIncident, *, user, written_at, new: bool) -> None:
    """Each item the file lists that is not there yet, with its own dates (see the module's docstring).

    Saved here rather than by action_item_create, which would close an item now and record today as
    when; the same model rules apply (ActionItem.close, full_clean). Verifying is a second person's word
    given here, so an item the file says was verified is imported done, the file's word in its text."""
    have = set() if new else set(incident.action_items.values_list("title", flat=True))
    users = get_user_model().objects
    for raw in item.action_items:
        if raw.title in have:
            continue
        have.add(raw.title)
        notes = [raw.description]
        status = raw.status if raw.status in ActionStatus.values else ActionStatus.OPEN
        if status == ActionStatus.VERIFIED:
            status = ActionStatus.DONE
            notes.append("Verified effective (per the file).")
        ticket = raw.ticket_url
        if ticket:
            try:
                validate_web_url(ticket)
            except ValidationError:
                notes.append(f"Ticket: {ticket}")
                ticket = ""
        owner = users.filter(username__iexact=raw.owner_name).first() if raw.owner_name else None
        if raw.owner_name and owner is None:
            notes.append(f"Owner: {raw.owner_name}")
        created_at = raw.created_at or written_at
        action = ActionItem(
            incident=incident,
            title=raw.title,
            description="\n".join(filter(None, notes)),
            action_type=raw.action_type if raw.action_type in ActionType.values else _action_type(raw.title),
            priority=raw.priority if raw.priority in Priority.values else Priority.P2,
            owner=owner,
            due_date=raw.due_date,
            ticket_url=ticket,
            created_at=created_at,
        )
        if status in ACTION_STATUSES_CLOSED:
            action.completed_at = max(raw.completed_at or written_at, created_at)
            action.completed_by = user
            action.close(status)
        else:
            action.status = status
        action.full_clean(exclude=["incident", "owner", "completed_by"], validate_constraints=False)
        action.save()


def _coe(incident: Incident, item: ImportedIncident, *, user, written_at, digest: str, new: bool) -> None:
    sections = {key: item.sections.get(key, "") for key in SECTION_KEYS}
    if item.notes:
        notes = "\n\n".join(f"### {heading}\n\n{text}".strip() for heading, text in item.notes)
        sections["related_items"] = "\n\n".join(
            filter(None, (sections["related_items"], f"## {NOTES_HEADING}\n\n{notes}"))
        )
    coe = None if new else CoeDocument.objects.select_for_update().filter(incident=incident).first()
    if coe is None:
        coe = CoeDocument(incident=incident, owner=user, created_at=written_at)
    elif coe.status != CoeStatus.DRAFT:
        raise ImportRefused(
            f"Its COE is {coe.get_status_display().lower()} here: reopen it before importing the file again."
        )
    else:
        coe.version += 1
    for key, text in sections.items():
        setattr(coe, key, text)
    coe.whys = item.whys
    # Its status is ours (a draft, or the draft it was): the database's check of it needs no query here.
    coe.full_clean(exclude=["incident", "owner"], validate_constraints=False)
    coe.save()
    if user is not None:
        coe.authors.add(user)
    CoeRevision.objects.create(
        coe=coe,
        number=coe.version,
        status=coe.status,
        saved_by=user,
        note=_REVISION_NOTE.format(digest=digest, origin=item.origin)[:200],
        data=coe_snapshot(coe),
    )


def import_job_start(job: ImportJob) -> None:
    """Run the saved job in a Celery worker, once the transaction that saved it commits."""
    from incidents.tasks import run_import

    transaction.on_commit(partial(run_import.delay, job.pk))


@service(dashboard=False)
def import_job_confirm(*, dry_run: ImportJob, user) -> ImportJob:
    """The real run of what `dry_run` previewed: its upload, format and columns. Once: confirming again
    (a second click, a second tab) finds the run the first confirmation started."""
    ImportJob.objects.select_for_update().filter(pk=dry_run.pk).first()
    started = ImportJob.objects.filter(options__confirms=dry_run.pk).first()
    if started is not None:
        return started
    job = ImportJob.objects.create(
        created_by=user,
        format=dry_run.format,
        dry_run=False,
        upload=dry_run.upload.name,
        original_name=dry_run.original_name,
        mapping=dry_run.mapping,
        options={**dry_run.options, "confirms": dry_run.pk},
    )
    import_job_start(job)
    return job
