"""check_planned_action: what the knowledge base says about a change an agent is about to make.

A plan that only reads (it starts with read, list, show, ... and names no write) is harmless: nothing
applies. For any other, the past incidents most like it are found by the site's full-text search
(incidents/search.py) on the words of the description, ranked there, and kept when they share the
service, or two of those words and at least half the best match's rank. The controls in force that
those incidents, or incidents on the service, led to apply to it, except one written for production when
the change is not in production. The verdict is read from the controls' own words: a destructive change
in production under a control that asks for a second person (peer review, two-person, sign-off) needs a
second approver. Everything returned says why it was picked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

from incidents import search
from incidents.models import ActionItem, CoeDocument, Control, Incident, TimelineEvent
from incidents.models.fulltext import CONFIG
from incidents.models.vocab import ControlStatus

from . import knowledge

SIMILAR_LIMIT = 5
ITEMS_LIMIT = 10
CLOSE_ENOUGH = 2  # shared words, the bar the incident page's similar incidents set
# Of the best match's rank: a plan's common words ("delete", "reporting") reach far down the ranking.
RELATIVE_RANK = 0.5

# Words of a plan that tell nothing about what it touches.
GENERIC = search.COMMON | {
    "service", "services", "system", "systems", "change", "changes", "make", "will", "want", "need", "going",
    "then", "them", "they", "have", "some", "also", "just", "only", "there", "which", "what", "please",
}  # fmt: skip

DESTRUCTIVE = re.compile(
    r"\b(delet|drop|recreat|re-creat|destroy|truncat|wipe|wiping|purg|terminat|tear down|teardown|overwrit|"
    r"force[- ]push|rm -rf)\w*",
    re.IGNORECASE,
)
# A plan that starts by reading and writes nothing: no lesson of a change applies to it.
READS = re.compile(
    r"^\s*(read|list|view|show|get|fetch|query|look|inspect|describe|export|download|count|search|find|print|"
    r"display|summari[sz]e)\b",
    re.IGNORECASE,
)
WRITES = re.compile(
    r"\b(deploy|chang|updat|modif|migrat|restart|reboot|scal|disabl|enabl|rotat|apply|push|merg|creat|install|"
    r"upgrad|patch|edit|writ|grant|revok|mov|renam|kill|stop|start|shut|run|execut|replac|restor|fix)\w*",
    re.IGNORECASE,
)
RECREATE = re.compile(r"\b(recreat|re-creat|rebuild)\w*", re.IGNORECASE)
PRODUCTION = re.compile(r"\b(prod|production|live)\b", re.IGNORECASE)
SECOND_PERSON = re.compile(
    r"second (person|approver|engineer)|two[- ]person|peer review|four[- ]eyes|sign-?off|approval",
    re.IGNORECASE,
)


@dataclass
class Plan:
    description: str
    service: str | None
    environment: str | None
    deletes_or_recreates: bool

    @property
    def destructive(self) -> bool:
        return self.deletes_or_recreates or bool(DESTRUCTIVE.search(self.description))

    @property
    def read_only(self) -> bool:
        text = self.description
        return not self.destructive and bool(READS.search(text)) and not WRITES.search(text)

    @property
    def in_production(self) -> bool:
        if self.environment:
            return self.environment == "production"
        return bool(PRODUCTION.search(self.description))

    @property
    def words(self) -> list[str]:
        found = re.findall(r"[A-Za-z0-9][\w-]*", self.description.lower())
        words = [w for w in found if len(w) >= 4 and w not in GENERIC]
        return list(dict.fromkeys(words))[: search.MAX_WORDS]


def _similar(user, plan: Plan, service_ids: set[int]) -> list[dict]:
    """The visible past incidents most like the plan: ranked by the site's search, kept on a shared
    service or enough shared words, each with its reasons."""
    words = plan.words
    ranked: dict[int, tuple[Incident, str, float]] = {}
    if words:
        for result in search.search(user, " or ".join(words)).results:
            incident = result.incident
            ranked[incident.pk] = (incident, knowledge.plain_snippet(result.snippet), incident.rank)
    on_service = []
    if service_ids:
        on_service = list(
            Incident.objects.visible_to(user)
            .filter(services__in=service_ids)
            .distinct()
            .with_ai_flag()
            .order_by("-started_at")[: search.PAGE_SIZE]
        )
    candidates = {pk: incident for pk, (incident, _s, _r) in ranked.items()} | {i.pk: i for i in on_service}
    if not candidates:
        return []
    shared = _shared_words(list(candidates), words)
    best = max((rank for _i, _s, rank in ranked.values()), default=0.0)
    same_service = {i.pk for i in on_service}
    picked = []
    for pk, incident in candidates.items():
        reasons = []
        if pk in same_service:
            reasons.append(f"same service ({plan.service})")
        _incident, snippet, rank = ranked.get(pk, (incident, "", 0.0))
        if len(shared[pk]) >= CLOSE_ENOUGH and rank >= RELATIVE_RANK * best:
            reasons.append(f"its record shares the words {', '.join(shared[pk])}")
        if not reasons:
            continue
        picked.append((pk in same_service, rank, incident.started_at, incident, snippet, reasons))
    # The service's own incidents first, then as the search ranks them, the latest first on a tie.
    picked.sort(key=lambda row: row[:3], reverse=True)
    incidents = Incident.objects.filter(pk__in=[row[3].pk for row in picked[:SIMILAR_LIMIT]]).with_ai_flag()
    by_pk = {incident.pk: incident for incident in incidents.prefetch_related("services")}
    return [
        {**knowledge.incident_row(by_pk[incident.pk]), "snippet": snippet, "reasons": reasons}
        for _same, _rank, _started, incident, snippet, reasons in picked[:SIMILAR_LIMIT]
    ]


def _has_word(word: str) -> Q:
    """The incident's own text, a COE section, a timeline event or an action item of it has the word (stemmed)."""
    query = SearchQuery(word, search_type="plain", config=CONFIG)
    return Q(search_vector=query) | Q(
        *(
            Exists(model.objects.filter(incident=OuterRef("pk"), search_vector=query))
            for model in (CoeDocument, TimelineEvent, ActionItem)
        ),
        _connector=Q.OR,
    )


def _shared_words(candidates: list[int], words: list[str]) -> dict[int, list[str]]:
    """Which of the plan's words each candidate matches, where the site's search looks: one query over the
    candidates only (each word searched across the knowledge base would read every COE using a common word)."""
    flags = {f"w{n}": ExpressionWrapper(_has_word(word), output_field=BooleanField()) for n, word in enumerate(words)}
    rows = Incident.objects.filter(pk__in=candidates).values("pk", **flags)
    return {row["pk"]: [word for n, word in enumerate(words) if row[f"w{n}"]] for row in rows}


def _for_production(control: Control) -> bool:
    return bool(PRODUCTION.search(f"{control.name} {control.scope}"))


def _applicable_controls(user, plan: Plan, similar: list[dict], service_ids: set[int]) -> list[dict]:
    """The active controls the similar incidents, or the service's incidents the user may see, led to."""
    links = Control.incidents.through.objects.filter(control__status=ControlStatus.ACTIVE)
    reasons: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    for control_id, key in links.filter(incident__key__in=[row["key"] for row in similar]).values_list(
        "control_id", "incident__key"
    ):
        after.setdefault(control_id, []).append(key)
    for control_id, keys in after.items():
        reasons[control_id] = [f"put in place after {', '.join(sorted(keys))}, which is like this change"]
    if service_ids:
        on_service: dict[int, list[str]] = {}
        rows = (
            links.filter(incident__services__in=service_ids)
            .exclude(incident__in=Incident.objects.hidden_from(user))
            .order_by("incident__started_at")
            .values_list("control_id", "incident__key")
        )
        for control_id, key in rows:
            keys = on_service.setdefault(control_id, [])
            if key not in keys:
                keys.append(key)
        for control_id, keys in on_service.items():
            named = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
            reasons.setdefault(control_id, []).append(f"in force on {plan.service} (after {named})")
    controls = Control.objects.filter(pk__in=reasons).order_by("name")
    led = knowledge.led_to_by(user, list(reasons))
    picked = []
    for control in controls:
        if _for_production(control) and not plan.in_production:
            continue  # written for production; this change is not in production
        row = knowledge.control_row(control, led.get(control.pk))
        row["requires_second_person"] = bool(SECOND_PERSON.search(f"{control.name} {control.description}"))
        row["reasons"] = reasons[control.pk]
        picked.append(row)
    return picked


def _open_items(user, plan: Plan, similar: list[dict], service_ids: set[int]) -> list[dict]:
    items = knowledge.visible_action_items(user).open()
    if service_ids:
        items = items.filter(incident__services__in=service_ids).distinct()
        reason = f"open on {plan.service}"
    else:
        items = items.filter(incident__key__in=[row["key"] for row in similar])
        reason = "open on an incident like this change"
    items = items.order_by("due_date", "id")[:ITEMS_LIMIT]
    return [{**knowledge.action_row(item), "reasons": [reason]} for item in items]


def _verdict(plan: Plan, similar: list[dict], controls: list[dict]) -> tuple[str, bool]:
    """The plain verdict and whether a second approver is required."""
    gatekeepers = [c for c in controls if c["requires_second_person"] and not c["disputed"]]
    recreates = plan.deletes_or_recreates or RECREATE.search(plan.description)
    what = "delete-and-recreate" if recreates else "destructive change"
    if plan.destructive and plan.in_production and gatekeepers:
        names = "; ".join(f"{c['name']} ({c['scope']})" for c in gatekeepers)
        led_by = sorted({i["key"] for c in gatekeepers for i in c["led_to_by"]})
        return (
            f"A second approver is required for this {what} in production: {names}. "
            f"Get their approval before you act; the control followed {', '.join(led_by)}.",
            True,
        )
    if controls:
        names = "; ".join(c["name"] for c in controls)
        return f"Controls apply to this change: {names}. Check that you meet them before you act.", False
    if similar:
        keys = ", ".join(row["key"] for row in similar)
        return f"No control applies, but past incidents are like this change ({keys}): read their COEs first.", False
    return "Nothing in the knowledge base applies to this change.", False


def check_planned_action(
    user, *, description: str, service: str | None, environment: str | None, deletes_or_recreates: bool
) -> dict:
    plan = Plan(description.strip(), service, environment, deletes_or_recreates)
    service_ids = set(knowledge.service_ids(user, service)) if service else set()
    if plan.read_only:
        similar, controls, items = [], [], []
        verdict, second_approver = "A read-only action: nothing in the knowledge base applies to it.", False
    else:
        similar = _similar(user, plan, service_ids)
        controls = _applicable_controls(user, plan, similar, service_ids)
        items = _open_items(user, plan, similar, service_ids)
        verdict, second_approver = _verdict(plan, similar, controls)
    return {
        "verdict": verdict,
        "second_approver_required": second_approver,
        "applies": bool(similar or controls or items),
        "read_as": {
            "read_only": plan.read_only,
            "destructive": plan.destructive,
            "production": plan.in_production,
            "words_searched": plan.words,
        },
        "similar_incidents": similar,
        "controls": controls,
        "open_action_items": items,
    }
