"""The record of every change: what django-auditlog watches, how each entry finds its incident, who acted.

Every write goes through the services, which call save(), delete() and the many-to-many add/remove,
so auditlog's model signals see them all and write one LogEntry each: the record, the action, each
changed field's value before and after, and the actor. A queryset .update() or raw SQL writes
nothing here (tests/test_history.py keeps the services free of them). Reasons: docs/history.md.

Each entry carries the ids of the incidents it belongs to in additional_data["incidents"] (one for
most records; a source belongs to every incident citing it), so an incident's whole history,
children included, is one indexed query (migration 0011_history_index).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db.models import BooleanField, DateTimeField, QuerySet
from django.db.models.signals import pre_save  # noqa: TID251  (auditlog's entries are written from signals)

# Derived or bookkeeping columns: the stored search vectors, the repeat flags the services recompute,
# the touch times, the COE's optimistic-locking counter. Parent keys are left out too: an entry
# already names its incident.
_NOISE = ["search_vector", "updated_at", "created_at"]


def _incident_of(parent: str) -> Callable:
    def get_additional_data(self) -> dict:
        return {"incidents": [getattr(self, f"{parent}_id")]}

    return get_additional_data


def _incident_through(relation: str) -> Callable:
    """For records two steps from their incident (a citation's involvement, a comment's COE)."""

    def get_additional_data(self) -> dict:
        try:
            incident_id = getattr(self, relation).incident_id
        except ObjectDoesNotExist:
            return {"incidents": []}
        return {"incidents": [incident_id]}

    return get_additional_data


def _incident_itself(self) -> dict:
    return {"incidents": [self.pk]}


def _incidents_citing(self) -> dict:
    """A source belongs to the history of every incident citing it when it changes, and of the one it
    is being recorded for (LINKING_TO): a source is saved before its link to that incident exists."""
    from incidents.models.evidence import _citations

    cited = [rows.filter(**{source: self.pk}).values_list(incident) for rows, source, incident in _citations()]
    incidents = {pk for (pk,) in cited[0].union(*cited[1:]) if pk is not None}
    linking_to = getattr(self, LINKING_TO, None)
    return {"incidents": sorted(incidents | ({linking_to} if linking_to is not None else set()))}


# Set on a source by the service that saves it on its way to an incident's list (the incident's id).
LINKING_TO = "history_linking_to"


def _control_incidents(self) -> dict:
    return {"incidents": sorted(self.incidents.values_list("pk", flat=True))}


def register() -> None:
    """Called once, from the app's ready()."""
    from incidents.models import (
        ActionItem,
        AIFieldCitation,
        AIInvolvement,
        Claim,
        CoeDocument,
        Control,
        ImpactFigure,
        Incident,
        IncidentFactor,
        ReviewComment,
        Source,
        TimelineEvent,
    )

    tracked = [
        (
            Incident,
            _incident_itself,
            [*_NOISE, "repeat_any", "repeat_public"],
            ["services", "regions", "tags", "sources"],
        ),
        (IncidentFactor, _incident_of("incident"), ["incident"], []),
        (ImpactFigure, _incident_of("incident"), ["incident"], []),
        (TimelineEvent, _incident_of("incident"), [*_NOISE, "incident"], []),
        (Source, _incidents_citing, [], []),
        (Claim, _incident_of("incident"), ["incident"], []),
        (AIInvolvement, _incident_of("incident"), ["incident"], ["evidence"]),
        (AIFieldCitation, _incident_through("involvement"), ["involvement"], []),
        (ActionItem, _incident_of("incident"), [*_NOISE, "incident"], []),
        (CoeDocument, _incident_of("incident"), [*_NOISE, "incident", "version"], ["authors"]),
        (ReviewComment, _incident_through("coe"), ["coe", "created_at"], []),
        # An incident's controls are set from its side (incident.controls.set): auditlog then
        # records the list's change on the incident, under the control's field name (see _LIST_LABELS).
        (Control, _control_incidents, [], ["incidents", "sources"]),
    ]
    for model, additional_data, exclude, m2m in tracked:
        # auditlog asks the record itself which extra data to store with each of its entries.
        model.get_additional_data = additional_data
        # The columns only: on creation auditlog would otherwise list the reverse relations too.
        columns = [f.name for f in model._meta.concrete_fields if f.name not in {"id", *exclude}]
        auditlog.register(model, include_fields=columns, m2m_fields=set(m2m))
    pre_save.connect(_stamp_actor, sender=LogEntry, dispatch_uid="incidents.history.actor")


# Who acts. A service names its caller (user=/by=) and the request its user; the innermost wins.
# Held as a function so a request's user is read when an entry is written: by then the API has
# authenticated a bearer token, which a middleware running before the view cannot see.
_actor: ContextVar[Callable | None] = ContextVar("history_actor", default=None)


@contextlib.contextmanager
def acting_as(user) -> Iterator[None]:
    """Entries written inside are by `user` (or by what a zero-argument function returns then)."""
    if user is None:
        yield
        return
    token = _actor.set(user if callable(user) else lambda: user)
    try:
        yield
    finally:
        _actor.reset(token)


def _stamp_actor(sender, instance: LogEntry, **kwargs) -> None:
    # Not auditlog's own set_actor(): it never restores the outer actor when contexts nest (a
    # service inside a request), and connects a signal receiver per call.
    find = _actor.get()
    if instance.actor_id is not None or find is None:
        return
    user = find()
    if getattr(user, "is_authenticated", False):
        instance.actor = user
        instance.actor_email = user.email or None


class HistoryActorMiddleware:
    """The signed-in user (session or API token) is the actor of what a request changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_as(lambda: getattr(request, "user", None)):
            return self.get_response(request)


def entries_for(incident_id: int) -> QuerySet[LogEntry]:
    """Every change to the incident and its records, newest first (one index range)."""
    return (
        LogEntry.objects.filter(additional_data__incidents__contains=[incident_id])
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-id")
    )


# Reading: entries as people read them.


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: Any = None  # as stored (JSON); None for a list's change
    after: Any = None
    before_display: str = ""
    after_display: str = ""
    added: tuple[str, ...] = ()  # a list's change (services, sources, authors...)
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    id: int
    at: datetime
    actor: str | None  # the username; None for a bulk load or a system task
    action: str  # "create", "update" or "delete"
    record_type: str
    record_id: int | None
    record: str
    fields: tuple[FieldChange, ...]
    after_publication: bool


_ACTIONS = {LogEntry.Action.CREATE: "create", LogEntry.Action.UPDATE: "update", LogEntry.Action.DELETE: "delete"}
# A list changed from the other side of its relation is recorded under the other side's name.
_LIST_LABELS = {("incident", "incidents"): "controls"}
# Names Django's default (from the class name) gets wrong.
_RECORD_TYPES = {"aifieldcitation": "AI field citation"}
# Records whose str() reads a relation: fetched with it.
_WITH_RELATED = {"reviewcomment": ("author",)}


def describe(entries: list[LogEntry], *, published_at: datetime | None = None) -> list[Change]:
    """Entries (with actor and content type selected) as changes with labelled values: a choice by
    its label, a flag yes/no, a time in UTC, a reference by the name of what it points at (one
    query per kind of record referred to, whatever the number of entries)."""
    names = _referenced_names(entries)
    return [_change(entry, names, published_at) for entry in entries]


def _change(entry: LogEntry, names: dict, published_at: datetime | None) -> Change:
    model = entry.content_type.model_class()
    fields = []
    for name, values in sorted((entry.changes or {}).items(), key=lambda item: _position(model, item[0])):
        field = _field(model, name)
        label = _label(model, name, field)
        if isinstance(values, dict):  # a many-to-many add or remove
            objects = tuple(values.get("objects", ()))
            adding = values.get("operation") == "add"
            # A list changed from the other side is named as the record's own endpoint names it.
            shown = _LIST_LABELS.get((model._meta.model_name if model else "", name), name)
            fields.append(
                FieldChange(
                    field=shown, label=label, added=objects if adding else (), removed=() if adding else objects
                )
            )
            continue
        before, after = values
        if entry.action == LogEntry.Action.CREATE and after in (None, ""):
            continue  # an empty field of a new record tells nothing
        before_precision, after_precision = _precisions(model, name, entry.changes)
        fields.append(
            FieldChange(
                field=name,
                label=label,
                before=before,
                after=after,
                before_display=_display(field, before, names, before_precision),
                after_display=_display(field, after, names, after_precision),
            )
        )
    return Change(
        id=entry.pk,
        at=entry.timestamp,
        actor=entry.actor.get_username() if entry.actor else None,
        action=_ACTIONS.get(entry.action, "update"),
        record_type=_RECORD_TYPES.get(entry.content_type.model) or (str(model._meta.verbose_name) if model else "?"),
        record_id=entry.object_id,
        record=entry.object_repr,
        fields=tuple(fields),
        after_publication=_after_publication(entry, published_at),
    )


def _after_publication(entry: LogEntry, published_at: datetime | None) -> bool:
    # The publication's own entry is written a moment after the time it records: it is not a later change.
    publishing = "published_at" in (entry.changes or {})
    return published_at is not None and entry.timestamp > published_at and not publishing


def _label(model, name: str, field) -> str:
    other_side = _LIST_LABELS.get((model._meta.model_name if model else "", name))
    return other_side or (str(field.verbose_name) if field is not None else name.replace("_", " "))


def _position(model, name: str) -> int:
    """Fields in the order the model declares them, as a form shows them."""
    names = [field.name for field in model._meta.get_fields()] if model else []
    return names.index(name) if name in names else len(names)


def _field(model, name: str):
    try:
        return model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        return None


def _referenced_names(entries: list[LogEntry]) -> dict[tuple[type, str], str]:
    wanted: dict[type, set] = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class()
        for name, values in (entry.changes or {}).items():
            field = _field(model, name)
            if field is None or not field.many_to_one or isinstance(values, dict):
                continue
            wanted[field.related_model].update(str(value) for value in values if value is not None)
    names = {}
    for related, pks in wanted.items():
        rows = related._default_manager.select_related(*_WITH_RELATED.get(related._meta.model_name, ()))
        for row in rows.filter(pk__in=pks):
            names[(related, str(row.pk))] = str(row)
    return names


def _precisions(model, name: str, changes: dict | None) -> tuple[str | None, str | None]:
    """How precisely a time was known before and after the change, when the same entry records it
    (a new record's does): a date is then shown as a date, never as 00:00 UTC."""
    from .models import Incident, TimelineEvent
    from .times import MILESTONE_BY_FIELD

    if model is Incident and name in MILESTONE_BY_FIELD:
        precision = MILESTONE_BY_FIELD[name].precision
    elif model is TimelineEvent and name == "occurred_at":
        precision = "precision"
    else:
        return None, None
    values = (changes or {}).get(precision)
    return (values[0], values[1]) if isinstance(values, list | tuple) and len(values) == 2 else (None, None)


def _display(field, value, names: dict, precision: str | None = None) -> str:
    if value is None:
        return "—"
    if field is None:
        return str(value)
    if field.many_to_one:
        return names.get((field.related_model, str(value)), f"#{value} (deleted)")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, BooleanField):
        return "yes" if value in (True, "True") else "no"
    if isinstance(field, DateTimeField):
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if precision is not None:
            from .times import DATE_PRECISIONS, PreciseTime

            if precision in DATE_PRECISIONS:
                return PreciseTime(at, precision).text()
        return f"{at:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value) if value != "" else "(empty)"
