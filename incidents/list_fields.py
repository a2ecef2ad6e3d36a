"""A form field for a comma-separated list of names, each stored in a column with its own length limit."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

# As many names as the API's lists take (incidents/api/serializers.py).
MAX_NAMES = 50


class NameListField(forms.CharField):
    """Comma-separated names (services, regions, tags) cleaned into a list of stripped names.

    Each name becomes a row whose column has a limit (Service.name, Region.code, Tag.name); a longer
    one is refused here, with a message naming the list and the name, instead of failing the save.
    The typed text stays in the input, since a bound form re-renders what was submitted.
    """

    def __init__(self, *, item_max_length: int, items_label: str, max_items: int = MAX_NAMES, **kwargs):
        self.item_max_length = item_max_length
        self.items_label = items_label
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        return [part.strip() for part in super().to_python(value).split(",") if part.strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        too_long = [name for name in value if len(name) > self.item_max_length]
        if too_long:
            shown = ", ".join(f"“{name[:40]}…” ({len(name)})" for name in too_long)
            raise ValidationError(
                f"{self.items_label} are at most {self.item_max_length} characters: {shown}.", code="max_length"
            )
        if len(value) > self.max_items:
            raise ValidationError(
                f"At most {self.max_items} {self.items_label.lower()} (this has {len(value)}).", code="max_items"
            )
