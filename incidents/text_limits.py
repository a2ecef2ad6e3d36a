"""Limits on prose that the database would hold at any length (text columns without a max_length).

The API's input serializers have always capped such prose; the pages' forms take the same limits from
here, so a text the page accepts is one the API accepts when a tool sends it back, and the other way round
(tests/test_edge_lengths.py compares the two).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxLengthValidator
from django.db import models

PROSE_MAX_LENGTH = 20_000

# Prose where a long text is a mistake rather than a detailed account: (model label, field) -> limit.
SHORTER = {
    ("incidents.incident", "trigger_text"): 5_000,
    ("incidents.incident", "adopted_cause_rationale"): 10_000,
    ("incidents.actionitem", "answers_why"): 5_000,
}


def text_max_length(column: models.Field) -> int | None:
    """The most characters the edge takes for `column`: its own max_length, or for unbounded text the
    limit above; None for columns that hold no prose."""
    if column.max_length:
        return column.max_length
    if isinstance(column, models.TextField):
        return SHORTER.get((column.model._meta.label_lower, column.name), PROSE_MAX_LENGTH)
    return None


def limit_prose_fields(form: forms.BaseModelForm) -> None:
    """Give each of a model form's text fields over an unbounded text column the limit above, with
    Django's message ("at most N characters") beside the field and maxlength on the input."""
    for name, field in form.fields.items():
        if not isinstance(field, forms.CharField) or field.max_length is not None:
            continue
        try:
            column = form._meta.model._meta.get_field(name)
        except FieldDoesNotExist:  # a field of the form's own, not a column
            continue
        limit = text_max_length(column)
        if limit is None:
            continue
        field.max_length = limit
        field.validators.append(MaxLengthValidator(limit))
        field.widget.attrs.update(field.widget_attrs(field.widget))
