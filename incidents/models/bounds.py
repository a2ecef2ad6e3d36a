"""The dates and times the app accepts and stores, and the web addresses: one definition.

Two layers, so that no stored value can break a read:

- What people may enter (the model fields' validators, so the forms, the API serializers via the
  services' full_clean, and the admin): from 1970-01-01 up to a bound in the near future. An
  incident, its timeline, its figures, its sources and the COE's workflow all happened (or are
  being recorded as they happen): a year ahead (NEAR_FUTURE) leaves room for a wrong zone or a
  clock off by hours and still refuses a typo such as 2205. Plans look further ahead: due dates,
  the end of a control and a token's expiry may be up to ten years away (PLANNING_HORIZON).
  Nothing in this knowledge base predates 1970 (the seeded incidents are from 2025-2026).
- What the database stores (a CHECK constraint per column, in each model's Meta.constraints):
  from 1970-01-01 to before 2100-01-01. Fixed, not relative to now(): a constraint must be
  immutable for dump and restore, and any bound in the calendar both Python and PostgreSQL read
  (years 1-9999 in UTC, whatever the zone) keeps every row readable and the dashboard's span
  finite. Even raw SQL cannot store year 10000 or 1 BC any more.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.deconstruct import deconstructible

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_DATE = EARLIEST.date()
STORED_BEFORE = datetime(2100, 1, 1, tzinfo=UTC)
STORED_BEFORE_DATE = STORED_BEFORE.date()
NEAR_FUTURE = timedelta(days=366)
PLANNING_HORIZON = timedelta(days=3653)


def latest_time(horizon: timedelta = NEAR_FUTURE) -> datetime:
    return min(timezone.now() + horizon, STORED_BEFORE)


def latest_date(horizon: timedelta = NEAR_FUTURE) -> date:
    return min(timezone.now().date() + horizon, STORED_BEFORE_DATE)


@deconstructible
class InRange:
    """A model field's validator: a date (or aware time) from 1970-01-01 to now + `days` days."""

    code = "out_of_range"

    def __init__(self, days: int = NEAR_FUTURE.days):
        self.days = days

    def __call__(self, value) -> None:
        if value is None:
            return
        horizon = timedelta(days=self.days)
        if isinstance(value, datetime):
            # Aware values compare across zones without converting, so 9999-12-31 23:00 in
            # Los Angeles (year 10000 in UTC) is refused here rather than overflowing.
            ok = EARLIEST <= value < latest_time(horizon) if timezone.is_aware(value) else None
            if ok is None:
                ok = EARLIEST.replace(tzinfo=None) <= value < latest_time(horizon).replace(tzinfo=None)
            latest = latest_time(horizon).date()
        else:
            latest = latest_date(horizon)
            ok = EARLIEST_DATE <= value <= latest
        if not ok:
            raise ValidationError(
                "Enter a date between %(earliest)s and %(latest)s.",
                code=self.code,
                params={"earliest": EARLIEST_DATE.isoformat(), "latest": latest.isoformat()},
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, InRange) and other.days == self.days


in_near_future = InRange(NEAR_FUTURE.days)
in_planning_horizon = InRange(PLANNING_HORIZON.days)


class StoredRangeCheck(models.CheckConstraint):
    """The column's CHECK: from 1970-01-01 to before 2100-01-01, or NULL.

    Model validation leaves it to the field's validator (InRange, narrower): checking it in Python
    too would cost a query per column on every save.
    """

    def validate(self, *args, **kwargs) -> None:
        return None


def stored_range(model: str, column: str, *, date_only: bool = False) -> StoredRangeCheck:
    low, high = (EARLIEST_DATE, STORED_BEFORE_DATE) if date_only else (EARLIEST, STORED_BEFORE)
    return StoredRangeCheck(
        condition=Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__gte": low, f"{column}__lt": high}),
        name=f"{model}_{column}_range",
    )


# Web addresses: http or https only, and nothing a browser or an OpenAPI `format: uri` reader
# would take as the end of the address (whitespace, quotes, angle brackets, backticks, braces).
_UNSAFE_IN_URL = re.compile(r"[\s\"'<>`{}|\\^\x00-\x1f\x7f]")


@deconstructible
class WebURLValidator(URLValidator):
    message = "Enter a web address (http or https) without spaces, quotes or angle brackets."

    def __init__(self, **kwargs):
        super().__init__(schemes=["http", "https"], **kwargs)

    def __call__(self, value) -> None:
        if isinstance(value, str) and _UNSAFE_IN_URL.search(value):
            # Its own code: a form's URLField would replace an "invalid" with its generic message.
            raise ValidationError(self.message, code="unsafe_url", params={"value": value})
        super().__call__(value)


validate_web_url = WebURLValidator()


@deconstructible
class InStoredRange:
    """A date typed into a filter (the dashboard's period, the metrics API's): within what can be stored,
    so the period, its months and its labels stay in the calendar Python and PostgreSQL share."""

    def __call__(self, value) -> None:
        if value is not None and not EARLIEST_DATE <= value <= STORED_BEFORE_DATE:
            raise ValidationError(
                "Enter a date between %(earliest)s and %(latest)s.",
                code="out_of_range",
                params={"earliest": EARLIEST_DATE.isoformat(), "latest": STORED_BEFORE_DATE.isoformat()},
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, InStoredRange)


in_stored_range = InStoredRange()
