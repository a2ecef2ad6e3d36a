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
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
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
    """A source belongs to the history of every incident citing it when it changes."""
    from incidents.models.evidence import _citations

    cited = [rows.filter(**{source: self.pk}).values_list(incident) for rows, source, incident in _citations()]
    return {"incidents": sorted({pk for (pk,) in cited[0].union(*cited[1:]) if pk is not None})}


def register() -> None:
    """Called once, from the app's ready()."""
    from incidents.models import (
        ActionItem,
        AIFieldCitation,
        AIInvolvement,
        Claim,
        CoeDocument,
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
