"""How each stored value is written in the JSON export and read back: one codec for both directions.

Records are written field by field from the model's own list of concrete fields, so a column added
later is exported (and imported) without anyone remembering to add it here. Rows that point at
another row name it by its natural key (a user by username, a source by URL, ...), never by a
database id, which means nothing in another database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string

from incidents.models import Control, Incident, Source, Team

# What names a row of each model that others point at.
NATURAL_KEYS: dict[type[models.Model], str] = {
    get_user_model(): "username",
    Group: "name",
    Source: "url",
    Team: "slug",
    Control: "name",
    Incident: "key",
}

# Never exported: database ids, stored search vectors, flags derived from other rows
# (incidents/repeats.py rebuilds them), and a team's chat webhook, whose address is its secret.
SKIPPED = {"id", "search_vector", "repeat_any", "repeat_public", "webhook_url"}


def natural_key_of(model: type[models.Model]) -> str:
    return NATURAL_KEYS[model]


def record_fields(model: type[models.Model], *, parent: str | None = None, skip: tuple[str, ...] = ()) -> list:
    """The fields of `model` a record carries: its concrete columns, less the link to the record it
    is nested in (`parent`), the SKIPPED ones and `skip`."""
    left_out = SKIPPED | set(skip) | ({parent} if parent else set())
    return [f for f in model._meta.concrete_fields if f.name not in left_out and not getattr(f, "generated", False)]


def dump_value(field: models.Field, value):
    if value is None:
        return None
    if field.is_relation:
        return getattr(value, natural_key_of(field.related_model))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    return value


def dump(obj: models.Model, fields: list) -> dict:
    """The record of `obj`: each field by name. Foreign keys must be loaded (select_related)."""
    return {f.name: dump_value(f, getattr(obj, f.name)) for f in fields}


def load_value(field: models.Field, value, resolve):
    """The Python value for `field` from the document's `value`; `resolve(model, natural_key)` finds a row."""
    if value is None:
        return None
    if field.is_relation:
        return resolve(field.related_model, value)
    if isinstance(field, models.DateTimeField):
        return datetime.fromisoformat(value)
    if isinstance(field, models.DateField):
        return date.fromisoformat(value)
    if isinstance(field, models.DecimalField):
        return Decimal(value)
    if isinstance(field, models.DurationField):
        duration = parse_duration(value)
        if duration is None:
            raise ValueError(f"{field.name}: {value!r} is not a duration")
        return duration
    return value


def load(model: type[models.Model], record: dict, fields: list, resolve, **extra) -> models.Model:
    """An unsaved `model` from `record`; fields the record lacks keep their defaults."""
    if not isinstance(record, dict):
        raise TypeError(f"a {model._meta.verbose_name} must be an object, not {type(record).__name__}")
    values = {f.name: load_value(f, record[f.name], resolve) for f in fields if f.name in record}
    return model(**values, **extra)
