"""Small helpers the data modules share: times written one way everywhere, and statements that say
whose they are.

Free text in the seed (summaries, rationales, COE sections, whys, control descriptions) is written as
a list of statements, each either cited to the keys of the sources that say it (`cited`) or marked as
ours (`ours`: a reading, a classification, a proposal). The loader renders the list as plain text:
a cited statement ends with its sources in words, a run of ours starts with OURS_MARKER, so a reader
of any page, export or API answer can tell a reported fact from our reading.
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from incidents.models.vocab import TimePrecision
from incidents.times import date_anchor

PACIFIC = "America/Los_Angeles"
_PACIFIC = ZoneInfo(PACIFIC)

# Starts a run of our own statements in rendered text; the pages may style it, the text keeps it.
OURS_MARKER = "Our reading:"


@dataclass(frozen=True)
class Statement:
    text: str
    sources: tuple[str, ...] = ()
    ours: bool = False


# Ends a line in rendered text (COE sections are Markdown; a list item is a line).
LINE = Statement("\n")


def cited(text: str, *sources: str) -> Statement:
    """A statement the named sources make. Written without its closing full stop."""
    return Statement(text, tuple(sources))


def ours(text: str) -> Statement:
    """A statement of ours (a reading, a classification, a proposal), not a source's."""
    return Statement(text, ours=True)


def pacific(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time as AWS states it (PDT in October), made aware."""
    return datetime(year, month, day, hour, minute, tzinfo=_PACIFIC)


def dated(year: int, month: int, day: int = 1, precision: str = TimePrecision.DAY) -> datetime:
    """A time the sources give only to the day, month or quarter, stored as the app stores such dates
    (00:00 UTC of the day, or of the month's or quarter's first), so it never reads as a clock time."""
    return date_anchor(date(year, month, day), precision)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A fixed UTC time for our own demo workflow (COE review steps, action items closed)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("UTC"))


def ticket(number: int) -> str:
    # A demo tracker; the host is reserved for examples.
    return f"https://tickets.example.com/COE-{number}"


__all__ = [
    "LINE",
    "OURS_MARKER",
    "PACIFIC",
    "Statement",
    "cited",
    "date",
    "dated",
    "ours",
    "pacific",
    "render",
    "ticket",
    "utc",
]


def render(statements: list[Statement], words: dict[str, str]) -> str:
    """The statements as plain text: "X (FT, via The Register). Our reading: Y. Z." `words` names each
    source key as a citation reads. A statement neither cited nor ours is refused, never shown as fact."""
    lines: list[list[str]] = [[]]
    in_ours = False
    for statement in statements:
        if statement is LINE:
            lines.append([])
            in_ours = False
            continue
        text = statement.text
        if not text or text[-1] in ".;," or text != text.strip():
            raise ValueError(f"Write a statement without its closing full stop or spaces: {text!r}")
        if statement.ours == bool(statement.sources):
            raise ValueError(f"A statement must be either cited or ours: {text!r}")
        if statement.ours:
            if not in_ours:
                # A list item keeps its bullet first.
                bullet, rest = ("- ", text[2:]) if text.startswith("- ") else ("", text)
                text = f"{bullet}{OURS_MARKER} {rest}"
            lines[-1].append(f"{text}.")
        else:
            lines[-1].append(f"{text} ({'; '.join(words[key] for key in statement.sources)}).")
        in_ours = statement.ours
    return "\n".join(" ".join(parts) for parts in lines)
