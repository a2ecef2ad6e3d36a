"""Every length limit is checked at the edge: a value one longer than a field's limit is a form error or a
400 naming that field, never a 500 or a database error, on PostgreSQL.

The forms and serializers are found by introspection, not listed by hand: every django.forms.BaseForm
subclass defined in a module of the incidents app, and every DRF serializer defined there. Each needs an
entry in REGISTRY (a valid payload to bind it with, or why it is never bound to input), so a form or
serializer added later fails here until it is covered. For each, the test reads the limits its fields
declare (max_length, a MaxLengthValidator, a list's per-name limit) and

- checks that no text field goes without the limit of the column behind it (a plain CharField over a
  varchar column would pass the form and fail the INSERT) or, with no column behind it, without a reason;
- binds it with the valid payload and one field one character too long: invalid, that field in the errors,
  the limit in its message (and at exactly the limit, no length error);
- compares the pages' limits with the API's for the same column: what one takes, the other takes;
- through HTTP, for the pages and API endpoints that take it (PAGES, API_WRITES): the page re-rendered with
  the error beside the field and everything typed still in the form, or a 400 naming the field; nothing
  stored.

Then the entries that are not a re-rendered form: the COE's comment and reopen forms (a message naming the
limit, and comment boxes that stop at it), every FilterSet's text filters (no 500 whatever the length), and
the create_api_token command.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

import django_filters
import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.core.validators import MaxLengthValidator
from django.db import models
from django.test import Client
from django.utils.html import escape
from rest_framework import serializers

import incidents
from incidents import services
from incidents.forms import CommentForm, ReopenForm
from incidents.list_fields import NameListField
from incidents.models import (
    ActionItem,
    AIInvolvement,
    ApiToken,
    Claim,
    CoeDocument,
    ImpactFigure,
    ImportMapping,
    Incident,
    Region,
    ReviewComment,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)
from incidents.models.vocab import CoeStatus
from incidents.views.tokens import TokenForm

from .factories import ActionItemFactory, IncidentFactory, SourceFactory, TimelineEventFactory
from .test_coe_pages import messages_of
from .test_incident_forms import incident_data, read_form

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------


def _app_modules() -> Iterator:
    for info in pkgutil.walk_packages(incidents.__path__, "incidents."):
        if ".migrations" not in info.name:
            yield importlib.import_module(info.name)


def _defined_in_app(base: type) -> dict[str, type]:
    """Classes deriving from `base` defined (not merely imported) in the app's modules, by dotted name."""
    found = {}
    for module in _app_modules():
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{value.__qualname__}"] = value
    return found


def discovered_forms() -> dict[str, type]:
    # A ModelForm without a model is a base for others (ServiceForm), not a form anyone binds.
    return {
        name: cls
        for name, cls in _defined_in_app(forms.BaseForm).items()
        if not (issubclass(cls, forms.BaseModelForm) and cls._meta.model is None)
    }


def discovered_serializers() -> dict[str, type]:
    return _defined_in_app(serializers.BaseSerializer)


# --------------------------------------------------------------------------
# What each one is bound with
# --------------------------------------------------------------------------


@dataclass
class World:
    """What payloads refer to: a writer, an incident with a COE and an action item, a source."""

    reviewer: object
    incident: Incident
    source: object
    item: ActionItem
    event: TimelineEvent


@dataclass(frozen=True)
class Bind:
    """Bind the class as `cls(data=data(world), **kwargs(world))`; data is valid as it stands.

    model: for a plain Form or Serializer, the model whose same-named columns stand behind its fields.
    unbounded: text fields with no limit and no column with one behind them, each with why that is right.
    columns: the column behind a field named otherwise (a list of names: the column each name goes into).
    """

    data: Callable[[World], dict]
    kwargs: Callable[[World], dict] = lambda world: {}
    model: type[models.Model] | None = None
    unbounded: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, tuple[type[models.Model], str]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputOnly:
    """A serializer the API only writes out (or the schema only describes): never bound to input. Its
    writable-looking fields are still checked against the columns behind them."""

    reason: str


def _timeline_data(world: World) -> dict:
    return {
        "occurred_local": "2025-10-20T06:50",
        "display_tz": "UTC",
        "precision": "minute",
        "kind": "detection",
        "actor_kind": "human",
        "description": "Alarm fired.",
        "source": str(world.source.pk),
        "moment": "",
    }


def _action_item_data(world: World) -> dict:
    return {
        "title": "Reject empty DNS plans",
        "action_type": "prevent",
        "priority": "P1",
        "owner": str(world.reviewer.pk),
        "due_date": "2026-01-31",
        "status": "open",
        "ticket_url": "https://tickets.example.com/OPS-7",
        "answers_why": "Why 3",
    }


def _api_incident_data(world: World) -> dict:
    return {
        "title": "DNS outage",
        "severity": "SEV2",
        "started_at": "2025-10-20T06:48:00Z",
        "services": ["DynamoDB"],
        "regions": ["us-east-1"],
        "tags": ["dns"],
    }


def _api_context(world: World) -> dict:
    # Serializers citing sources check them against what the caller may see.
    return {"context": {"request": SimpleNamespace(user=world.reviewer)}}


def _ai_data(world: World) -> dict:
    return {
        "agent_name": "Kiro",
        "vendor": "AWS",
        "role": "executor",
        "autonomy_level": "",
        "gate_present": "yes",
        "gate_type": "per_action",
        "gate_bypassed": "no",
        "permissions_held": "write_prod",
        "permissions_inherited": "yes",
        "action_taken": "Deleted and recreated the environment.",
        "action_class": "delete_recreate",
        "reversible": "unknown",
    }


NAMES = {
    "services": (Service, "name"),
    "service_names": (Service, "name"),
    "service": (Service, "name"),
    "regions": (Region, "code"),
    "region_codes": (Region, "code"),
    "region": (Region, "code"),
    "tags": (Tag, "name"),
    "tag_names": (Tag, "name"),
    "team": (Team, "slug"),
    "owner": (get_user_model(), "username"),
    "access_group": (Group, "name"),
}

REGISTRY: dict[str, Bind | OutputOnly] = {
    # Forms
    "incidents.forms.IncidentForm": Bind(
        data=lambda world: incident_data(), kwargs=lambda world: {"user": world.reviewer}, columns=NAMES
    ),
    "incidents.forms.TimelineEventForm": Bind(
        data=_timeline_data,
        kwargs=lambda world: {"user": world.reviewer, "instance": TimelineEvent(incident=world.incident)},
    ),
    "incidents.forms.CoeSectionsForm": Bind(
        data=lambda world: {"base_version": "1", "summary": "What happened."}, model=CoeDocument
    ),
    "incidents.forms.ActionItemForm": Bind(data=_action_item_data),
    "incidents.forms.ActionItemStatusForm": Bind(
        data=lambda world: {"status": "done"}, kwargs=lambda world: {"instance": world.item}
    ),
    "incidents.forms.CommentForm": Bind(
        data=lambda world: {"section": "summary", "body": "Which alarm?"}, model=ReviewComment
    ),
    "incidents.forms.ReopenForm": Bind(data=lambda world: {"reason": "The impact lacks numbers."}),
    "incidents.views.tokens.TokenForm": Bind(
        data=lambda world: {"name": "BI dashboard", "scope": "read"}, model=ApiToken
    ),
    # No text field: a file and a choice of format.
    "incidents.views.imports.UploadForm": Bind(
        data=lambda world: {"format": ""},
        kwargs=lambda world: {"user": world.reviewer, "files": {"file": SimpleUploadedFile("pm.md", b"# Outage")}},
    ),
    # A CSV's headings mapped to fields, and a name to save the mapping under.
    "incidents.views.import_columns.ColumnsForm": Bind(
        data=lambda world: {"save_as": "Jira export", "column-0": "title"},
        kwargs=lambda world: {"headings": ["Summary"]},
        columns={"save_as": (ImportMapping, "name")},
    ),
    "incidents.views.dashboard.DashboardForm": Bind(
        data=lambda world: {"period": ""}, kwargs=lambda world: {"today": date(2026, 1, 15), "user": world.reviewer}
    ),
    "incidents.evidence_forms.SourceForm": Bind(
        data=lambda world: {
            "url": "https://news.example.com/new-story",
            "title": "Outage report",
            "publisher": "Example News",
            "kind": "press",
            "note": "",
        }
    ),
    "incidents.evidence_forms.ClaimForm": Bind(
        data=lambda world: {
            "source": str(world.source.pk),
            "claimant": "FT",
            "stance": "asserts",
            "claimed_cause": "",
            "claimed_ai_role": "executor",
            "statement": "The agent deleted the environment.",
            "quote": "",
        },
        kwargs=lambda world: {"incident": world.incident, "instance": Claim(incident=world.incident)},
    ),
    "incidents.evidence_forms.AttributionForm": Bind(
        data=lambda world: {
            "attribution_status": "disputed",
            "adopted_cause": "access_control",
            "adopted_cause_rationale": "The vendor's account is the primary one.",
        },
        kwargs=lambda world: {"instance": world.incident},
    ),
    "incidents.evidence_forms.AIInvolvementForm": Bind(
        data=_ai_data,
        kwargs=lambda world: {"incident": world.incident, "instance": AIInvolvement(incident=world.incident)},
    ),
    "incidents.evidence_forms.ImpactFigureForm": Bind(
        data=lambda world: {"name": "Lost orders", "value": "120000", "unit": "orders", "note": ""},
        kwargs=lambda world: {"incident": world.incident, "instance": ImpactFigure(incident=world.incident)},
    ),
    "incidents.evidence_forms.ControlsForm": Bind(
        data=lambda world: {}, kwargs=lambda world: {"incident": world.incident}
    ),
    "incidents.evidence_forms.OpsReviewForm": Bind(
        data=lambda world: {
            "reviewed_in_ops_meeting": "on",
            "ops_review_on": "2025-11-03",
            "ops_review_meeting": "Weekly ops review",
        },
        kwargs=lambda world: {"instance": world.incident.coe},
    ),
    # Serializers that take input
    "incidents.api.serializers.IncidentInputSerializer": Bind(data=_api_incident_data, model=Incident, columns=NAMES),
    "incidents.api.serializers.ActionItemInputSerializer": Bind(
        data=lambda world: {"title": "Reject empty DNS plans", "owner": world.reviewer.username},
        model=ActionItem,
        columns=NAMES,
    ),
    "incidents.api.serializers.CoeInputSerializer": Bind(
        data=lambda world: {"summary": "What happened.", "whys": [{"cause": "DNS", "links": ["a", "b", "c"]}]},
        model=CoeDocument,
        unbounded={"whys": "chains of free text kept as JSON, as long as the request body allows"},
    ),
    "incidents.api.metrics_view.MetricsQuerySerializer": Bind(
        data=lambda world: {"service": ["DynamoDB"]}, columns=NAMES
    ),
    "incidents.api.part_inputs.TimelineEventInputSerializer": Bind(
        data=lambda world: {"occurred_at": "2025-10-20T06:50:00Z", "kind": "detection", "description": "Alarm."},
        kwargs=_api_context,
        model=TimelineEvent,
    ),
    "incidents.api.part_inputs.SourceInputSerializer": Bind(
        data=lambda world: {"url": "https://news.example.com/new-story", "title": "Outage", "publisher": "News"},
        kwargs=_api_context,
        model=Source,
    ),
    "incidents.api.part_inputs.ClaimInputSerializer": Bind(
        data=lambda world: {
            "source": world.source.pk,
            "claimant": "FT",
            "stance": "asserts",
            "statement": "The agent deleted the environment.",
        },
        kwargs=_api_context,
        model=Claim,
    ),
    "incidents.api.part_inputs.AIInvolvementInputSerializer": Bind(
        data=lambda world: {**_ai_data(world), "citations": {"agent_name": world.source.pk}},
        kwargs=_api_context,
        model=AIInvolvement,
        unbounded={"citations": "its keys must be citable field names, its values source ids"},
    ),
    "incidents.api.part_inputs.ImpactFigureInputSerializer": Bind(
        data=lambda world: {"name": "Lost orders", "value": "120000"}, kwargs=_api_context, model=ImpactFigure
    ),
    "incidents.api.part_views.IncidentControlsInput": Bind(data=lambda world: {"controls": []}),
    # Serializers the API only writes out
    "incidents.api.serializers.SourceSerializer": OutputOnly("read-only viewset"),
    "incidents.api.serializers.ClaimSerializer": OutputOnly("read-only viewset"),
    "incidents.api.serializers.ImpactFigureSerializer": OutputOnly("nested in the incident's detail"),
    "incidents.api.serializers.TimelineEventSerializer": OutputOnly("read-only viewset"),
    "incidents.api.serializers.AIInvolvementSerializer": OutputOnly("nested in the incident's detail"),
    "incidents.api.serializers.ActionItemSerializer": OutputOnly("answers; ActionItemInputSerializer takes input"),
    "incidents.api.serializers.ControlSerializer": OutputOnly("read-only viewset"),
    "incidents.api.serializers.IncidentListSerializer": OutputOnly("describes the list rows in the schema"),
    "incidents.api.serializers.IncidentDetailSerializer": OutputOnly("answers; IncidentInputSerializer takes input"),
    "incidents.api.serializers.CoeSerializer": OutputOnly("answers; CoeInputSerializer takes input"),
    "incidents.api.serializers.ErrorDetailSerializer": OutputOnly("the error shape, for the schema"),
    "incidents.api.serializers.ErrorSerializer": OutputOnly("the error shape, for the schema"),
    "incidents.api.part_views.IncidentControlsOutput": OutputOnly("answers; IncidentControlsInput takes input"),
    "incidents.api.history.HistoryEntrySerializer": OutputOnly("the change history, read-only"),
    "incidents.api.history.HistoryFieldSerializer": OutputOnly("the change history, read-only"),
}


@pytest.fixture
def world(reviewer) -> World:
    incident = IncidentFactory(title="Checkout errors", owner=reviewer)
    services.coe_start(incident=incident, user=reviewer)
    source = SourceFactory()
    incident.sources.add(source)  # the evidence forms cite the incident's own sources
    return World(
        reviewer=reviewer,
        incident=incident,
        source=source,
        item=ActionItemFactory(incident=incident, owner=reviewer),
        event=TimelineEventFactory(incident=incident),
    )


def _entry(name: str) -> Bind | OutputOnly:
    assert name in REGISTRY, (
        f"{name} is not in REGISTRY of {__name__}: add a Bind with a valid payload "
        "(or OutputOnly, for a serializer never bound to input) so its limits are tested"
    )
    return REGISTRY[name]


def _bound(cls: type, entry: Bind, world: World, data: dict):
    return cls(data=data, **entry.kwargs(world))


# --------------------------------------------------------------------------
# Limits, read from the fields
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    path: tuple[str | int, ...]  # the field's name, then a list index or a nested field's name
    max_length: int
    field: object  # the form or serializer field holding the text

    @property
    def name(self) -> str:
        return str(self.path[0])

    def __str__(self) -> str:
        return ".".join(map(str, self.path))


def _declared_max_length(field) -> int | None:
    limits = [field.max_length] if getattr(field, "max_length", None) else []
    limits += [v.limit_value for v in getattr(field, "validators", ()) if isinstance(v, MaxLengthValidator)]
    return min(limits, default=None)


def _is_text(field) -> bool:
    return isinstance(field, forms.CharField | serializers.CharField)


def _overlong(field, length: int) -> str:
    if isinstance(field, forms.URLField | serializers.URLField):
        prefix = "https://example.com/"
        return prefix + "a" * (length - len(prefix))
    if isinstance(field, forms.EmailField | serializers.EmailField):
        suffix = "@example.com"
        return "a" * (length - len(suffix)) + suffix
    return "a" * length


def form_limits(form: forms.BaseForm) -> list[Limit]:
    limits = []
    for name, form_field in form.fields.items():
        if isinstance(form_field, NameListField):
            limits.append(Limit((name, 0), form_field.item_max_length, form_field))
        elif _is_text(form_field) and (limit := _declared_max_length(form_field)):
            limits.append(Limit((name,), limit, form_field))
    return limits


def serializer_limits(serializer: serializers.BaseSerializer, path: tuple = ()) -> list[Limit]:
    limits = []
    for name, ser_field in serializer.fields.items():
        if ser_field.read_only:
            continue
        here = (*path, name)
        if isinstance(ser_field, serializers.ListSerializer):
            limits += serializer_limits(ser_field.child, (*here, 0))
        elif isinstance(ser_field, serializers.BaseSerializer):
            limits += serializer_limits(ser_field, here)
        elif isinstance(ser_field, serializers.ListField) and _is_text(ser_field.child):
            if limit := _declared_max_length(ser_field.child):
                limits.append(Limit((*here, 0), limit, ser_field.child))
        elif _is_text(ser_field) and (limit := _declared_max_length(ser_field)):
            limits.append(Limit(here, limit, ser_field))
    return limits


def _column(model: type[models.Model] | None, name: str, entry: Bind | OutputOnly):
    """The column a field's text goes into: named in the registry, or the model's field of that name."""
    columns = entry.columns if isinstance(entry, Bind) else {}
    if name in columns:
        other, column = columns[name]
        return other._meta.get_field(column)
    if model is None:
        return None
    try:
        column = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return None if column.is_relation else column  # a relation holds ids, not the text


def column_problems(fields: Mapping[str, object], limits: list[Limit], model, entry, rename=None) -> list[str]:
    """Where a field lets through more than the column behind it holds.

    A limited field must not allow more than its column. A text field without a limit is wrong over a
    column with one; over none (or a text column without one) it needs a reason in the registry
    (a Bind's unbounded), so nobody leaves a limit out by accident.
    """
    rename = rename or {}
    problems = []

    def column_for(name, each):
        return _column(model, rename.get(name, getattr(each, "source", None) or name), entry)

    for limit in limits:
        if len(limit.path) > 2 or (len(limit.path) == 2 and limit.path[1] != 0):
            continue  # inside a nested serializer: its own registry entry checks it
        column = column_for(limit.name, fields[limit.name])
        if column is not None and column.max_length and limit.max_length > column.max_length:
            problems.append(
                f"{limit}: allows {limit.max_length}, {column.model.__name__}.{column.name} holds {column.max_length}"
            )
    limited = {limit.name for limit in limits}
    for name, each in fields.items():
        if getattr(each, "read_only", False) or name in limited:
            continue
        child = getattr(each, "child", None)
        free = isinstance(each, serializers.DictField | serializers.JSONField | forms.JSONField)
        if not (_is_text(each) or _is_text(child) or free):
            continue
        column = column_for(name, each)
        if column is not None and column.max_length:
            problems.append(f"{name}: no limit, but {column.model.__name__}.{column.name} holds {column.max_length}")
        elif column is None and isinstance(entry, Bind) and name not in entry.unbounded:
            problems.append(f"{name}: text with no limit and no column behind it; give it a max_length")
    return problems


# --------------------------------------------------------------------------
# (a) Every discovered form and serializer, bound directly
# --------------------------------------------------------------------------

FORMS = discovered_forms()
SERIALIZERS = discovered_serializers()


def test_discovery_finds_the_forms_and_serializers_everyone_knows():
    # A broken walk would find nothing and pass everything below.
    assert {"incidents.forms.IncidentForm", "incidents.views.tokens.TokenForm"} <= set(FORMS)
    assert "incidents.forms.ServiceForm" not in FORMS
    assert {
        "incidents.api.serializers.IncidentInputSerializer",
        "incidents.api.metrics_view.MetricsQuerySerializer",
    } <= set(SERIALIZERS)


@pytest.mark.parametrize("name", sorted(FORMS) + sorted(SERIALIZERS))
def test_every_form_and_serializer_is_registered(name):
    _entry(name)


def test_registry_names_only_what_exists():
    stale = set(REGISTRY) - set(FORMS) - set(SERIALIZERS)
    assert not stale, f"REGISTRY names classes that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(FORMS))
def test_form_text_fields_carry_their_columns_limits(name, world):
    cls, entry = FORMS[name], _entry(name)
    form = cls(**entry.kwargs(world))
    model = cls._meta.model if issubclass(cls, forms.BaseModelForm) else entry.model
    rename = {local: column for column, local in getattr(cls, "input_for", {}).items()}
    assert column_problems(form.fields, form_limits(form), model, entry, rename) == []


@pytest.mark.parametrize("name", sorted(SERIALIZERS))
def test_serializer_text_fields_carry_their_columns_limits(name, world):
    cls, entry = SERIALIZERS[name], _entry(name)
    meta = getattr(cls, "Meta", None)
    model = getattr(meta, "model", None) or (entry.model if isinstance(entry, Bind) else None)
    serializer = cls(**entry.kwargs(world)) if isinstance(entry, Bind) else cls()
    assert column_problems(serializer.fields, serializer_limits(serializer), model, entry) == []


def _with(data: dict, limit: Limit, value: str) -> dict:
    """A copy of `data` with the text at limit.path replaced; in a list, the value is its last name."""
    data = copy.deepcopy(data)
    _put(data, limit.path, value, comma_separated=isinstance(limit.field, forms.Field))
    return data


def _put(data: dict, path: tuple, value: str, *, comma_separated: bool) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        data[head] = value
    elif rest == (0,):  # a list of names: a form's is one comma-separated text
        data[head] = f"valid-name, {value}" if comma_separated else ["valid-name", value]
    elif rest[0] == 0:  # a list of nested objects: change the first
        first = copy.deepcopy(data[head][0]) if data.get(head) else {}
        _put(first, rest[1:], value, comma_separated=comma_separated)
        data[head] = [first]
    else:
        inner = copy.deepcopy(data.get(head) or {})
        _put(inner, rest, value, comma_separated=comma_separated)
        data[head] = inner


def _names_the_limit(errors, limit: Limit) -> bool:
    """Whether the messages state the limit (as 500 or 50,000): the length error, not another one."""
    text = json.dumps(errors, default=str)
    return str(limit.max_length) in text or f"{limit.max_length:,}" in text


@pytest.mark.parametrize("name", [n for n in sorted(FORMS) if isinstance(REGISTRY.get(n), Bind)])
def test_form_refuses_one_character_too_many_in_each_field(name, world):
    cls, entry = FORMS[name], REGISTRY[name]
    valid = _bound(cls, entry, world, entry.data(world))
    assert valid.is_valid(), f"the registry's payload for {name} is not valid: {valid.errors.as_data()}"
    for limit in form_limits(cls(**entry.kwargs(world))):
        form = _bound(cls, entry, world, _with(entry.data(world), limit, _overlong(limit.field, limit.max_length + 1)))
        assert not form.is_valid(), f"{name}.{limit} took {limit.max_length + 1} characters"
        assert limit.name in form.errors, f"{name}.{limit}: the error is not beside the field: {form.errors}"
        assert _names_the_limit(form.errors[limit.name], limit), form.errors[limit.name]
        # And exactly at the limit, that field is fine.
        form = _bound(cls, entry, world, _with(entry.data(world), limit, _overlong(limit.field, limit.max_length)))
        form.is_valid()
        assert not _names_the_limit(form.errors.get(limit.name, []), limit), f"{name}.{limit} refused its limit"


@pytest.mark.parametrize("name", [n for n in sorted(SERIALIZERS) if isinstance(REGISTRY.get(n), Bind)])
def test_serializer_refuses_one_character_too_many_in_each_field(name, world):
    cls, entry = SERIALIZERS[name], REGISTRY[name]
    valid = _bound(cls, entry, world, entry.data(world))
    assert valid.is_valid(), f"the registry's payload for {name} is not valid: {valid.errors}"
    for limit in serializer_limits(cls(**entry.kwargs(world))):
        serializer = _bound(
            cls, entry, world, _with(entry.data(world), limit, _overlong(limit.field, limit.max_length + 1))
        )
        assert not serializer.is_valid(), f"{name}.{limit} took {limit.max_length + 1} characters"
        assert limit.name in serializer.errors, f"{name}.{limit}: the error does not name the field"
        assert _names_the_limit(serializer.errors[limit.name], limit), serializer.errors
        serializer = _bound(
            cls, entry, world, _with(entry.data(world), limit, _overlong(limit.field, limit.max_length))
        )
        serializer.is_valid()
        assert not _names_the_limit(serializer.errors.get(limit.name, []), limit), f"{name}.{limit} refused its limit"


# A page's field and the API's field for the same column, named differently.
API_NAME = {"service_names": "services", "region_codes": "regions", "tag_names": "tags"}


def _text_lengths(fields: Mapping[str, object], limits: list[Limit], model, rename) -> dict[tuple, int | None]:
    """(model, column) -> the most characters the field takes (None: no limit), for text fields."""
    lengths = {}
    for limit in limits:
        if len(limit.path) == 1 or limit.path[1:] == (0,):
            lengths[(model, rename.get(limit.name, limit.name))] = limit.max_length
    for name, each in fields.items():
        if _is_text(each) and not getattr(each, "read_only", False):
            lengths.setdefault((model, rename.get(name, name)), None)
    return lengths


def test_pages_and_api_take_the_same_lengths(world):
    """What a page accepts the API accepts, and the other way round: a text typed in the page can be
    sent back by a tool that read it, and a tool's text edited in the page."""
    pages, api = {}, {}
    for name, cls in FORMS.items():
        entry = REGISTRY.get(name)  # one missing fails test_every_form_and_serializer_is_registered
        if entry is None:
            continue
        model = cls._meta.model if issubclass(cls, forms.BaseModelForm) else entry.model
        if model is not None:
            rename = {local: column for column, local in getattr(cls, "input_for", {}).items()} | API_NAME
            form = cls(**entry.kwargs(world))
            for key, length in _text_lengths(form.fields, form_limits(form), model, rename).items():
                pages.setdefault(key, {})[name] = length
    for name, cls in SERIALIZERS.items():
        entry = REGISTRY.get(name)
        if isinstance(entry, Bind) and entry.model is not None:
            serializer = cls(**entry.kwargs(world))
            for key, length in _text_lengths(serializer.fields, serializer_limits(serializer), entry.model, {}).items():
                api.setdefault(key, {})[name] = length
    assert set(pages) & set(api), "no column is written by both a page and the API: the comparison is empty"
    differ = {
        f"{model.__name__}.{column}": {**pages[(model, column)], **api[(model, column)]}
        for model, column in set(pages) & set(api)
        if len(set(pages[(model, column)].values()) | set(api[(model, column)].values())) > 1
    }
    assert differ == {}


# --------------------------------------------------------------------------
# (b) Through HTTP: the pages and the API endpoints that take them
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page whose form `form` (a REGISTRY name) is submitted as a browser would: what the page's form
    (`match`, read_form's attributes) holds, the registry's payload over it when `fill`, one field too long."""

    name: str
    form: str
    url: Callable[[World], str]
    match: Mapping[str, str]
    stored: Callable[[World], object]  # what must be the same after the refused submission
    fill: bool = True
    prefix: str = ""  # a formset row's
    htmx: bool = False  # submitted in place; a refusal answers 422 with the form
    kwargs: Callable[[World], dict] | None = None  # the form as the view binds it, when not the registry's
    reread: bool = False  # read the page again before each try (a refused save still moved its version on)

    @property
    def status(self) -> int:
        return 422 if self.htmx else 200


@dataclass(frozen=True)
class Api:
    """An API write taking serializer `serializer`: the registry's payload with one field too long, or
    (partial) that field alone. Updates send the ETag of a GET of `etag_from` in If-Match."""

    serializer: str
    method: str
    url: Callable[[World], str]
    stored: Callable[[World], object]
    partial: bool = False
    etag_from: Callable[[World], str] | None = None


def _row(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


PAGES = [
    Page(
        "incident create",
        "incidents.forms.IncidentForm",
        url=lambda world: "/incidents/new/",
        match={"novalidate": ""},
        stored=lambda world: Incident.objects.count(),
    ),
    Page(
        "incident edit",
        "incidents.forms.IncidentForm",
        url=lambda world: f"/incidents/{world.incident.key}/edit/",
        match={"novalidate": ""},
        stored=lambda world: _row(Incident, world.incident.pk),
        fill=False,
    ),
    Page(
        "timeline event add",
        "incidents.forms.TimelineEventForm",
        url=lambda world: f"/incidents/{world.incident.key}/timeline/",
        match={"id": "add-event"},
        stored=lambda world: TimelineEvent.objects.count(),
        htmx=True,
    ),
    Page(
        "COE editor action item",
        "incidents.forms.ActionItemForm",
        url=lambda world: f"/incidents/{world.incident.key}/coe/",
        match={"id": "coe-form"},
        stored=lambda world: list(ActionItem.objects.values()),
        fill=False,
        prefix="items-0-",
        reread=True,  # the editor saves its sections beside refused items
    ),
    *(
        Page(
            f"evidence {section} add",
            form,
            url=lambda world, section=section: f"/incidents/{world.incident.key}/evidence/{section}/new/",
            match={"data-evidence-form": ""},
            stored=lambda world, model=model: model.objects.count(),
            htmx=True,
        )
        for section, form, model in [
            ("sources", "incidents.evidence_forms.SourceForm", Source),
            ("claims", "incidents.evidence_forms.ClaimForm", Claim),
            ("ai", "incidents.evidence_forms.AIInvolvementForm", AIInvolvement),
            ("impact", "incidents.evidence_forms.ImpactFigureForm", ImpactFigure),
        ]
    ),
    Page(
        "evidence source edit",
        "incidents.evidence_forms.SourceForm",
        url=lambda world: f"/incidents/{world.incident.key}/evidence/sources/{world.source.pk}/",
        match={"data-evidence-form": ""},
        stored=lambda world: _row(Source, world.source.pk),
        fill=False,
        htmx=True,
        kwargs=lambda world: {"instance": world.source},
    ),
    Page(
        "evidence attribution",
        "incidents.evidence_forms.AttributionForm",
        url=lambda world: f"/incidents/{world.incident.key}/evidence/attribution/edit/",
        match={"data-evidence-form": ""},
        stored=lambda world: _row(Incident, world.incident.pk),
        htmx=True,
    ),
    Page(
        "evidence operational review",
        "incidents.evidence_forms.OpsReviewForm",
        url=lambda world: f"/incidents/{world.incident.key}/evidence/ops-review/edit/",
        match={"data-evidence-form": ""},
        stored=lambda world: _row(CoeDocument, world.incident.coe.pk),
        htmx=True,
    ),
    Page(
        "API token create",
        "incidents.views.tokens.TokenForm",
        url=lambda world: "/incidents/settings/tokens/",
        match={"novalidate": ""},
        stored=lambda world: ApiToken.objects.count(),
    ),
]

API = "/api/v1"

API_WRITES = [
    Api(
        "incidents.api.serializers.IncidentInputSerializer",
        "post",
        url=lambda world: f"{API}/incidents/",
        stored=lambda world: Incident.objects.count(),
    ),
    Api(
        "incidents.api.serializers.IncidentInputSerializer",
        "patch",
        url=lambda world: f"{API}/incidents/{world.incident.key}/",
        stored=lambda world: _row(Incident, world.incident.pk),
        partial=True,
        etag_from=lambda world: f"{API}/incidents/{world.incident.key}/",
    ),
    Api(
        "incidents.api.serializers.IncidentInputSerializer",
        "put",
        url=lambda world: f"{API}/incidents/{world.incident.key}/",
        stored=lambda world: _row(Incident, world.incident.pk),
        etag_from=lambda world: f"{API}/incidents/{world.incident.key}/",
    ),
    Api(
        "incidents.api.serializers.ActionItemInputSerializer",
        "patch",
        url=lambda world: f"{API}/action-items/{world.item.pk}/",
        stored=lambda world: _row(ActionItem, world.item.pk),
        partial=True,
        etag_from=lambda world: f"{API}/action-items/{world.item.pk}/",
    ),
    Api(
        "incidents.api.serializers.CoeInputSerializer",
        "patch",
        url=lambda world: f"{API}/coes/{world.incident.key}/",
        stored=lambda world: _row(CoeDocument, world.incident.coe.pk),
        partial=True,
        etag_from=lambda world: f"{API}/coes/{world.incident.key}/",
    ),
    *(
        Api(
            serializer,
            "post",
            url=lambda world, part=part: f"{API}/incidents/{world.incident.key}/{part}/",
            stored=lambda world, model=model: model.objects.count(),
        )
        for part, serializer, model in [
            ("timeline", "incidents.api.part_inputs.TimelineEventInputSerializer", TimelineEvent),
            ("sources", "incidents.api.part_inputs.SourceInputSerializer", Source),
            ("claims", "incidents.api.part_inputs.ClaimInputSerializer", Claim),
            ("ai-involvements", "incidents.api.part_inputs.AIInvolvementInputSerializer", AIInvolvement),
            ("impact-figures", "incidents.api.part_inputs.ImpactFigureInputSerializer", ImpactFigure),
            ("action-items", "incidents.api.serializers.ActionItemInputSerializer", ActionItem),
        ]
    ),
    Api(
        "incidents.api.part_inputs.TimelineEventInputSerializer",
        "patch",
        url=lambda world: f"{API}/timeline-events/{world.event.pk}/",
        stored=lambda world: _row(TimelineEvent, world.event.pk),
        partial=True,
        etag_from=lambda world: f"{API}/incidents/{world.incident.key}/",
    ),
    Api(
        "incidents.api.metrics_view.MetricsQuerySerializer",
        "get",
        url=lambda world: f"{API}/metrics/",
        stored=lambda world: None,
    ),
]


def _field_html(html: str, name: str) -> str:
    """The field wrapper holding the control named `name`, up to the next field or the form's end
    (test_incident_forms.field_block stops 3,000 characters on, inside a long text)."""
    at = html.index(f'name="{name}"')
    start = html.rindex('<div class="field', 0, at)
    ends = [i for i in (html.find('<div class="field', at), html.find("</form>", at)) if i != -1]
    return html[start : min(ends)]


def _text_inputs(form: forms.BaseForm) -> list[str]:
    """Fields whose typed text a re-rendered page must give back (not menus or boxes, which hold choices)."""
    return [
        name
        for name, each in form.fields.items()
        if isinstance(each.widget, forms.Textarea | forms.widgets.Input)
        and not isinstance(each.widget, forms.CheckboxInput | forms.HiddenInput | forms.widgets.ChoiceWidget)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_shows_the_length_error_beside_the_field_and_keeps_what_was_typed(page, world, client_for):
    cls, entry = FORMS[page.form], REGISTRY[page.form]
    client = client_for(world.reviewer)
    url = page.url(world)
    headers = {"HTTP_HX_REQUEST": "true"} if page.htmx else {}
    limits = form_limits(cls(**entry.kwargs(world)))
    assert limits, f"{page.form} has no limited field to try"
    shown = None
    for limit in limits:
        if shown is None or page.reread:
            shown = client.get(url, **headers)
            assert shown.status_code == 200
        on_page = read_form(shown.content, **page.match)
        valid = {**on_page, **({page.prefix + k: v for k, v in entry.data(world).items()} if page.fill else {})}
        own = _with(
            {k.removeprefix(page.prefix): v for k, v in valid.items()},
            limit,
            _overlong(limit.field, limit.max_length + 1),
        )
        sent = {**valid, page.prefix + limit.name: own[limit.name]}
        before = page.stored(world)

        response = client.post(url, sent, **headers)

        assert response.status_code == page.status, f"{limit}: {response.status_code}"
        assert page.stored(world) == before, f"{limit}: something was stored"
        # The error is the form's own message, beside that field, and the only one on the page.
        own_data = {k.removeprefix(page.prefix): v for k, v in sent.items()}
        expected = cls(data=own_data, **(page.kwargs or entry.kwargs)(world))
        expected.is_valid()
        assert list(expected.errors) == [limit.name], f"{limit}: other errors too: {expected.errors}"
        block = _field_html(response.content.decode(), page.prefix + limit.name)
        for message in expected.errors[limit.name]:
            assert escape(message) in block, f"{limit}: {message!r} is not beside the field"
        assert response.content.decode().count('class="errorlist') == 1, f"{limit}: errors elsewhere on the page"
        # Everything typed is still in the form, the overlong text included.
        again = read_form(response.content, **page.match)
        for name in _text_inputs(expected):
            key = page.prefix + name
            if key in sent:
                assert again.get(key) == sent[key], f"{limit}: {key} was not kept"


@pytest.fixture
def writer(world):
    _, plain = ApiToken.issue(user=world.reviewer, name="edge lengths", scope="write")
    return Client(headers={"Authorization": f"Bearer {plain}"})


@pytest.mark.parametrize("write", API_WRITES, ids=lambda write: f"{write.method}:{write.serializer.rsplit('.', 1)[-1]}")
def test_api_write_answers_400_naming_the_field(write, world, writer):
    cls, entry = SERIALIZERS[write.serializer], REGISTRY[write.serializer]
    limits = serializer_limits(cls(**entry.kwargs(world)))
    assert limits, f"{write.serializer} has no limited field to try"
    for limit in limits:
        body = _with(entry.data(world), limit, _overlong(limit.field, limit.max_length + 1))
        if write.partial:
            body = {limit.name: body[limit.name]}
        headers = {}
        if write.etag_from:
            read = writer.get(write.etag_from(world))
            assert read.status_code == 200, read.content
            headers["If-Match"] = read["ETag"]
        before = write.stored(world)

        if write.method == "get":
            response = writer.get(write.url(world), body)
        else:
            send = getattr(writer, write.method)
            response = send(write.url(world), json.dumps(body), content_type="application/json", headers=headers)

        assert response.status_code == 400, f"{limit}: {response.status_code} {response.content[:300]}"
        error = response.json()["error"]
        assert list(error["fields"]) == [limit.name], f"{limit}: {error}"
        assert _names_the_limit(error["fields"][limit.name], limit), error
        assert write.stored(world) == before, f"{limit}: something was stored"


# The COE page's comment and reopen forms post and come back to the page (no form re-rendered):
# an overlong text is refused with a message naming the field's limit, not a misleading one.


def test_overlong_comment_is_refused_naming_the_limit(world, approver, client_for):
    limit = CommentForm.base_fields["body"].max_length
    response = client_for(approver).post(
        f"/incidents/{world.incident.key}/coe/comments/", {"section": "summary", "body": "a" * (limit + 1)}
    )
    assert response.status_code == 302
    assert not ReviewComment.objects.exists()
    assert messages_of(response) == [
        f"Comment not added: Ensure this value has at most {limit} characters (it has {limit + 1})."
    ]


def test_overlong_reopen_reason_is_refused_naming_the_limit(world, approver, client_for):
    coe = world.incident.coe
    CoeDocument.objects.filter(pk=coe.pk).update(status=CoeStatus.IN_REVIEW)
    limit = ReopenForm.base_fields["reason"].max_length
    response = client_for(approver).post(f"/incidents/{world.incident.key}/coe/reopen/", {"reason": "a" * (limit + 1)})
    assert response.status_code == 302
    assert CoeDocument.objects.get(pk=coe.pk).status == CoeStatus.IN_REVIEW
    assert messages_of(response) == [
        f"Not reopened: Ensure this value has at most {limit} characters (it has {limit + 1})."
    ]


# Filters take text too (?team=, ?owner=, ?q=): a value longer than any column compares as unequal
# (or is refused with a 400), never a database error. Every FilterSet of the app must be listed here.
FILTER_LISTS = {
    "incidents.filters.IncidentFilter": (f"{API}/incidents/", f"{API}/feed/", "/incidents/"),
    "incidents.filters.ActionItemFilter": (f"{API}/action-items/",),
    "incidents.filters.ControlFilter": (f"{API}/controls/",),
}
LONGER_THAN_ANY_COLUMN = "a" * 1000


FILTERSETS = _defined_in_app(django_filters.FilterSet)


@pytest.mark.parametrize("name", sorted(FILTERSETS))
def test_text_filters_take_overlong_values_without_a_server_error(name, world, writer, client_for):
    assert name in FILTER_LISTS, f"{name}: list the pages that use it in FILTER_LISTS"
    filterset = FILTERSETS[name]
    text_filters = [
        key
        for key, each in filterset.base_filters.items()
        if isinstance(each, django_filters.CharFilter | django_filters.ModelChoiceFilter)
    ]
    browser = client_for(world.reviewer)
    for url in FILTER_LISTS[name]:
        client = writer if url.startswith(API) else browser
        for key in text_filters:
            response = client.get(url, {key: LONGER_THAN_ANY_COLUMN})
            assert response.status_code in (200, 400), f"{url}?{key}=…: {response.status_code}"
            if response.status_code == 400:
                assert key in response.json()["error"]["fields"], response.content[:300]


def test_token_command_refuses_an_overlong_name_naming_the_option(world):
    limit = TokenForm.base_fields["name"].max_length
    with pytest.raises(CommandError, match=rf"--name: Ensure this value has at most {limit} characters"):
        call_command("create_api_token", "--user", world.reviewer.username, "--name", "a" * (limit + 1))
    with pytest.raises(CommandError, match="--expires-in-days: Ensure this value is less than or equal to 3650"):
        call_command("create_api_token", "--user", world.reviewer.username, "--expires-in-days", "99999999")
    assert not ApiToken.objects.exists()


def test_a_200_character_service_name_is_a_clear_error_in_the_page_and_the_api(world, writer, client_for):
    name = "s" * 200
    page = client_for(world.reviewer).post("/incidents/new/", incident_data(service_names=f"DynamoDB, {name}"))
    assert page.status_code == 200
    assert "Service names are at most 120 characters" in _field_html(page.content.decode(), "service_names")
    api = writer.post(
        f"{API}/incidents/",
        json.dumps({**_api_incident_data(world), "services": ["DynamoDB", name]}),
        content_type="application/json",
    )
    assert api.status_code == 400
    assert api.json()["error"]["fields"] == {"services": {"1": ["Service names are at most 120 characters."]}}
    assert list(Incident.objects.all()) == [world.incident]


def test_comment_boxes_stop_at_the_comment_limit(world, approver, client_for):
    """The browser stops typing at the limit, so a long comment is never lost to the refusal above."""
    coe = world.incident.coe
    CoeDocument.objects.filter(pk=coe.pk).update(status=CoeStatus.IN_REVIEW)
    services.review_comment_add(coe=coe, user=approver, section="summary", body="Which alarm?")
    html = client_for(approver).get(f"/incidents/{world.incident.key}/coe/").content.decode()
    boxes = re.findall(r'<textarea[^>]*name="body"[^>]*>', html)
    assert len(boxes) >= 2, "no new comment and reply boxes on the page"  # a new comment, and a reply
    limit = CommentForm.base_fields["body"].max_length
    assert all(f'maxlength="{limit}"' in box for box in boxes), boxes


ODD_VALUES = [None, "", 12345678901234567890, -1, 1.5, True, [], ["x"], {}, {"x": "y"}, "\u00e9\u00e8" * 3, " "]


@pytest.mark.parametrize("name", [n for n in sorted(SERIALIZERS) if isinstance(REGISTRY.get(n), Bind)])
def test_serializer_answers_any_json_value_with_errors_not_an_exception(name, world):
    """A value of the wrong JSON type in any field is a validation error naming it (a 400), never an
    exception from validation (a 500)."""
    cls, entry = SERIALIZERS[name], REGISTRY[name]
    writable = [key for key, each in cls(**entry.kwargs(world)).fields.items() if not each.read_only]
    for key in writable:
        for value in ODD_VALUES:
            serializer = _bound(cls, entry, world, {**entry.data(world), key: value})
            if not serializer.is_valid():
                assert set(serializer.errors) <= {key, "non_field_errors"}, (key, value, serializer.errors)


def test_a_tag_outside_the_slug_format_is_refused_alike_by_the_page_and_the_api(world, writer, client_for):
    page = client_for(world.reviewer).post("/incidents/new/", incident_data(tag_names="dns, zürich"))
    assert page.status_code == 200
    assert "Tags are single words" in _field_html(page.content.decode(), "tag_names")
    assert read_form(page.content, novalidate="")["tag_names"] == "dns, zürich"
    api = writer.post(
        f"{API}/incidents/",
        json.dumps({**_api_incident_data(world), "tags": ["dns", "zürich"]}),
        content_type="application/json",
    )
    assert api.status_code == 400
    assert list(api.json()["error"]["fields"]) == ["tags"]
    assert list(Incident.objects.all()) == [world.incident]
