"""Incident keys that tell nothing about incidents a reader may not see, and are never given twice.

Public incidents are numbered per year of their start, INC-2026-0001, INC-2026-0002, …, from a counter
row per year (IncidentKeyCounter): a number is taken by one UPDATE … RETURNING that locks the year's row
until the creating transaction ends, so two writers can never take the same number, a creation that
rolls back gives its number back, and a deletion never does (the counter only goes up).

Restricted incidents take no number from that series, or every gap in it would tell outsiders one
exists: their keys carry an opaque random suffix instead, RST-2026-7KQ3XM2D, which tells even the
people who may see one nothing about how many others there are (as GitHub's private advisories are
GHSA-xxxx-xxxx-xxxx rather than numbers). An incident keeps its key for life, so links stay good:
restricting a public incident later, or deleting one, leaves a gap, which is then no sign of anything
in particular.
"""

from __future__ import annotations

import random
import secrets

from django.db import connection, models

PUBLIC_PREFIX = "INC"
RESTRICTED_PREFIX = "RST"
# Crockford's base 32: digits and capitals without I, L, O and U, so a key read aloud or retyped survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SUFFIX_LENGTH = 8  # 40 bits


class IncidentKeyCounter(models.Model):
    """The last number given to a public incident starting in `year` (INC-`year`-NNNN)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "incident key counter"

    def __str__(self) -> str:
        return f"{PUBLIC_PREFIX}-{self.year}: {self.last}"


def take_numbers(year: int, count: int = 1) -> range:
    """Reserve the next `count` numbers of `year`'s public series (held until the transaction ends)."""
    table = connection.ops.quote_name(IncidentKeyCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last) VALUES (%s, %s) "
            f"ON CONFLICT (year) DO UPDATE SET last = {table}.last + EXCLUDED.last RETURNING last",
            [year, count],
        )
        (last,) = cursor.fetchone()
    return range(last - count + 1, last + 1)


def public_key(year: int, number: int) -> str:
    return f"{PUBLIC_PREFIX}-{year}-{number:04d}"


def restricted_key(year: int, rng: random.Random | None = None) -> str:
    """An opaque key; `rng` only for generated data that must come out the same for the same seed."""
    pick = rng.choice if rng is not None else secrets.choice
    return f"{RESTRICTED_PREFIX}-{year}-{''.join(pick(_ALPHABET) for _ in range(_SUFFIX_LENGTH))}"
