"""Whose statement a record is, and which workflow states belong to demo data.

Every timeline event, impact figure, action item and control is either reported (a source says it;
for a team's own incident, its responders recorded it) or ours (a reading, a classification, a
proposed action, a demo value): its `basis`. The pages, the Markdown export and the API say which,
in the same words. An incident with `demo` set is the seeded knowledge base: its COE approvals and
its action items' progress were made by demo users, so they are labelled as a demo's, never left to
read as the company's progress beside a fact its source reported.
"""

from __future__ import annotations

import re

from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from .models.vocab import Basis, ClaimedAIRole, HarmLevel

DEMO_LABEL = "Demo workflow"
DEMO_NOTE = (
    "Demo data. The sources' facts are cited where they are shown; the COE review, its approvals and "
    "the action items' owners, progress and due dates were made by demo users to show the workflow, "
    "and are not the company's progress."
)
# Seeded free text (summaries, rationales, COE sections) begins a run of our own statements with
# this marker; the reported sentences around it end with their citation in parentheses.
OURS_MARKER = "Our reading:"
_OURS_MARKER = re.compile(re.escape(OURS_MARKER))
# An AI involvement field stated by no cited source: the reviewers' reading of the sources.
UNCITED_AI_FIELD = "our reading"

# CSET's "none" means the AI did no harm, which a bare "None" does not say (it reads as "not
# recorded"); the others are named as CSET names them, with CSET's value beside ours.
HARM_LEVEL_LABELS = {
    HarmLevel.NONE: "No AI harm (CSET: none)",
    HarmLevel.NEAR_MISS: "AI tangible harm near-miss (CSET: near-miss)",
    HarmLevel.ISSUE: "AI tangible harm issue (CSET: issue)",
    HarmLevel.EVENT: "AI tangible harm event (CSET: event)",
    HarmLevel.UNCLEAR: "Unclear whether the AI did harm (CSET: unclear)",
}


def harm_level_label(value: str) -> str:
    return HARM_LEVEL_LABELS.get(value, value)


def harm_level_choices() -> list[tuple[str, str]]:
    return [(value, harm_level_label(value)) for value in HarmLevel.values]


def is_ours(basis: str) -> bool:
    return basis != Basis.REPORTED


def basis_label(basis: str) -> str:
    return Basis(basis).label


def basis_text(basis: str, publishers: list[str]) -> str:
    """In plain text (Markdown): 'Reported by AWS', 'Reported', 'Our reading (from AWS)'."""
    named = ", ".join(p for p in publishers if p)
    if not is_ours(basis):
        return f"Reported by {named}" if named else "Reported"
    return f"{basis_label(basis)} (from {named})" if named else basis_label(basis)


def ai_field_populated(involvement, field: str) -> bool:
    """Whether an AI involvement field says something (not empty, not "unknown")."""
    return getattr(involvement, field) not in ("", None, "unknown")


def ours_marked(text) -> SafeString:
    """`text` (HTML, or plain text to escape) with each "Our reading:" marker shown as a label, its
    words unchanged: the reader sees where our statements begin among the reported ones."""
    html = str(conditional_escape(text))
    return mark_safe(_OURS_MARKER.sub(f'<span class="badge badge-ours">{OURS_MARKER}</span>', html))


def claims_an_ai_role(claims) -> bool:
    """Whether any claim says an AI agent had a part (advised, wrote the code, acted)."""
    return any(claim.claimed_ai_role not in ("", ClaimedAIRole.NONE) for claim in claims)
