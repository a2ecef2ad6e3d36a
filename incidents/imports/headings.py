"""The heading mapping (headings.toml, and the file IMPORT_HEADINGS_FILE names): data, not code.

Loaded once per process; an extra file adds headings and front matter keys or overrides them.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from incidents.models.coe import SECTION_KEYS, SECTIONS
from incidents.models.vocab import PrimaryCause, TimelineKind

DEFAULT_FILE = Path(__file__).with_name("headings.toml")
# Places a heading may go besides a COE section.
SPECIAL_TARGETS = ("timeline", "action_items", "whys", "title")


@dataclass(frozen=True)
class Mapping:
    headings: dict[str, str]
    front_matter: dict[str, tuple[str, ...]]
    categories: dict[str, str]
    timeline_kinds: tuple[tuple[str, tuple[str, ...]], ...]

    def target(self, heading: str) -> str | None:
        return self.headings.get(heading_key(heading))


_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[ivxlc]+|[a-z])[.)]\s+", re.IGNORECASE)


def heading_key(heading: str) -> str:
    """A heading as the mapping lists it: lower case, no numbering, emphasis or punctuation."""
    text = _NUMBERING.sub("", heading.strip())
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ImproperlyConfigured(f"IMPORT_HEADINGS_FILE: cannot read {path}: {error}") from error


def _checked(data: dict, path: Path) -> dict:
    allowed = set(SECTION_KEYS) | set(SPECIAL_TARGETS)
    for heading, target in data.get("headings", {}).items():
        if target not in allowed:
            raise ImproperlyConfigured(f"{path}: heading {heading!r} maps to {target!r}, which is no section.")
    for category, cause in data.get("categories", {}).items():
        if cause not in PrimaryCause.values:
            raise ImproperlyConfigured(f"{path}: category {category!r} maps to {cause!r}, which is no cause.")
    for kind in data.get("timeline_kinds", {}):
        if kind not in TimelineKind.values:
            raise ImproperlyConfigured(f"{path}: {kind!r} is no timeline kind.")
    return data


@functools.cache
def mapping() -> Mapping:
    merged: dict[str, dict] = {"headings": {}, "front_matter": {}, "categories": {}, "timeline_kinds": {}}
    files = [DEFAULT_FILE]
    if extra := settings.IMPORT_HEADINGS_FILE:
        files.append(Path(extra))
    for path in files:
        data = _checked(_read(path), path)
        for table in merged:
            merged[table].update(data.get(table, {}))
    # The COE's own section titles ("Question: detection") map to their sections; the files may override.
    titles = {heading_key(section.title): section.key for section in SECTIONS}
    return Mapping(
        headings=titles | {heading_key(h): target for h, target in merged["headings"].items()},
        front_matter={field: tuple(k.lower() for k in keys) for field, keys in merged["front_matter"].items()},
        categories={k.lower(): v for k, v in merged["categories"].items()},
        timeline_kinds=tuple((kind, tuple(words)) for kind, words in merged["timeline_kinds"].items()),
    )
