"""Knowledge-base search across incidents, COE sections, timelines and action items.

One entry point, `search(user, text, filters)`: PostgreSQL full-text search. Each incident's own
text is weighted (title A, summary B, impact and trigger C); COE sections, timeline events and
action items are weight C. Each table stores its tsvector in a generated column with a GIN index
(models/fulltext.py). The matching incident ids are a UNION of one indexed search per table,
ranked with ts_rank over the stored vectors and summed per incident; snippets come from
ts_headline.

It starts from Incident.objects.visible_to(user): a restricted incident is never counted,
faceted, snippeted or suggested to someone who may not see it. Snippets are escaped text with
<mark> around the matched words, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorExact,
)
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import ActionItem, AIInvolvement, CoeDocument, Incident, TimelineEvent
from .models.bounds import EARLIEST, STORED_BEFORE
from .models.coe import SECTION_KEYS, SECTIONS_BY_KEY
from .models.fulltext import CONFIG
from .models.vocab import IncidentStatus, PrimaryCause, Severity

MAX_WORDS = 8
PAGE_SIZE = 20
# A search the planner expects to match more rows than this in the four searched tables (a term nearly
# every COE contains) is broad: ranking every match would read tens of thousands of COE vectors from
# TOAST (about a second at 100,000 incidents). It ranks the matches among the latest BROAD_LATEST
# incidents of the ones searched instead, and says so.
BROAD_ROWS = 50_000
BROAD_LATEST = 1_000
MAX_PAGE = 1_000_000
HITS_PER_KIND = 3
# Private-use characters mark highlights in ts_headline's output; the text is
# escaped and only then are they turned into <mark> tags.
START, STOP = "\ue000", "\ue001"


# Every searched table stores its tsvector (models/fulltext.py) in `search_vector`, GIN-indexed.
VECTOR = F("search_vector")


# Facets: the parameter, its label, and its choices (the list page's names).
FACETS = {
    "primary_cause": ("Cause", dict(PrimaryCause.choices)),
    "severity": ("Severity", dict(Severity.choices)),
    "year": ("Year", None),
    "ai_involved": ("AI involvement", {"true": "AI agent involved", "false": "No AI agent"}),
    "status": ("Status", dict(IncidentStatus.choices)),
}


def clean_filters(params) -> dict[str, str]:
    """Facet filters from a query dict; unknown values are dropped, not guessed."""
    filters = {}
    for name, (_label, choices) in FACETS.items():
        value = (params.get(name) or "").strip()
        if not value:
            continue
        if choices is None:
            # A year incidents can have (incidents/models/bounds.py); year 0000 would not even query.
            if value.isdigit() and len(value) == 4 and EARLIEST.year <= int(value) < STORED_BEFORE.year:
                filters[name] = value
        elif value in choices:
            filters[name] = value
    return filters


def _apply_filters(incidents: QuerySet[Incident], filters: dict[str, str]) -> QuerySet[Incident]:
    if "primary_cause" in filters:
        incidents = incidents.filter(primary_cause=filters["primary_cause"])
    if "severity" in filters:
        incidents = incidents.filter(severity=filters["severity"])
    if "status" in filters:
        incidents = incidents.filter(status=filters["status"])
    if "year" in filters:
        incidents = incidents.filter(started_at__year=int(filters["year"]))
    if "ai_involved" in filters:
        has_ai = Exists(AIInvolvement.objects.filter(incident=OuterRef("pk")))
        incidents = incidents.filter(has_ai if filters["ai_involved"] == "true" else ~has_ai)
    return incidents


@dataclass
class Hit:
    kind: str
    label: str
    url: str
    snippet: SafeString


@dataclass
class Result:
    incident: Incident
    title: SafeString
    snippet: SafeString
    hits: list[Hit] = field(default_factory=list)


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class SearchResults:
    text: str
    filters: dict[str, str]
    page: Page | None
    results: list[Result]
    facets: list[tuple[str, str, list[FacetValue]]]
    # For a broad search, how many of the latest incidents were searched (BROAD_LATEST); else None.
    latest: int | None = None

    @property
    def total(self) -> int:
        return self.page.paginator.count if self.page else 0


# Matching.
def _query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=CONFIG)


def _matches(incidents: QuerySet[Incident], text: str) -> QuerySet[Incident]:
    query = _query(text)
    # One indexed search per table; the union is the set of matching incidents.
    ids = (
        Incident.objects.order_by()
        # Keys are upper case: an exact match can use the key's unique index beside the GIN one.
        .filter(Q(search_vector=query) | Q(key=text.strip().upper()))
        .values("pk")
        .union(
            CoeDocument.objects.order_by().filter(search_vector=query).values("incident_id"),
            TimelineEvent.objects.order_by().filter(search_vector=query).values("incident_id"),
            ActionItem.objects.order_by().filter(search_vector=query).values("incident_id"),
        )
    )
    return incidents.filter(pk__in=ids)


def _rank_sql() -> str:
    """Each matching incident's rank: its own vector's plus the best of each other table's matching rows.

    A UNION ALL of one indexed search per table, ranked with ts_rank on the stored vectors of the rows
    that match (and only those: the expensive part is reading a COE's vector), summed per incident.
    Table and column names come from the models; each branch takes (config, text) twice.
    """
    q = "websearch_to_tsquery(%s::regconfig, %s)"
    branches = []
    for model in (Incident, CoeDocument, TimelineEvent, ActionItem):
        table = connection.ops.quote_name(model._meta.db_table)
        vector = connection.ops.quote_name(model._meta.get_field("search_vector").column)
        owner = model._meta.pk.column if model is Incident else model._meta.get_field("incident").column
        owner = connection.ops.quote_name(owner)
        branches.append(
            f"SELECT {owner} AS incident_id, max(ts_rank({vector}, {q})) AS r FROM {table} "
            f"WHERE {vector} @@ {q} GROUP BY {owner}"
        )
    return " UNION ALL ".join(branches)


def _headline(expression, query: SearchQuery, *, max_words: int, min_words: int) -> SearchHeadline:
    """Up to two fragments around the matches, marked with the private-use characters."""
    return SearchHeadline(
        expression,
        query,
        config=CONFIG,
        start_sel=START,
        stop_sel=STOP,
        max_words=max_words,
        min_words=min_words,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


# The statement's name for the matching incidents and their ranks, computed once per request.
HITS = "search_hits"


def _hits_sql(base_sql: str) -> str:
    """The visible, filtered incidents (`base_sql` selects their ids) that match, with their rank and
    what the facets and the page order need: the per-table ranks of _rank_sql and an exact match of
    the key (rank 0), summed per incident, then each incident read once by its primary key (the
    fence, OFFSET 0, keeps the planner from checking every visible incident instead)."""
    incident = connection.ops.quote_name(Incident._meta.db_table)
    ai = connection.ops.quote_name(AIInvolvement._meta.db_table)

    def col(model, name: str) -> str:
        return connection.ops.quote_name(model._meta.get_field(name).column)

    pk = connection.ops.quote_name(Incident._meta.pk.column)
    return (
        f"SELECT g.id, g.rank, i.{col(Incident, 'primary_cause')} AS primary_cause, "
        f"i.{col(Incident, 'severity')} AS severity, i.{col(Incident, 'status')} AS status, "
        f"i.{col(Incident, 'started_at')} AS started_at, "
        f"EXISTS(SELECT 1 FROM {ai} a WHERE a.{col(AIInvolvement, 'incident')} = g.id) AS has_ai "
        f"FROM (SELECT x.incident_id AS id, sum(x.r) AS rank FROM ({_rank_sql()} "
        f"UNION ALL SELECT {pk} AS incident_id, 0::real AS r FROM {incident} WHERE {col(Incident, 'key')} = %s) x "
        f"GROUP BY x.incident_id OFFSET 0) g "
        f"JOIN {incident} i ON i.{pk} = g.id WHERE g.id IN ({base_sql})"
    )


def _latest_hits_sql(latest_sql: str) -> str:
    """As _hits_sql, among the incidents `latest_sql` selects (the latest of the base): each one checked
    and ranked on its own, its own vector and its COE's, timeline events' and action items' through
    their incident index, so the cost is that of the latest incidents, not of every match. The
    ranks are _hits_sql's, summed in the same order (incident, COE, timeline, action items), so an
    incident ranks the same either way. Takes (config, text, key) then `latest_sql`'s parameters."""
    quote = connection.ops.quote_name
    incident = quote(Incident._meta.db_table)
    ai = quote(AIInvolvement._meta.db_table)

    def col(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    pk, vector = quote(Incident._meta.pk.column), col(Incident, "search_vector")
    laterals, ranks, found = [], [f"CASE WHEN i.{vector} @@ q.q THEN ts_rank(i.{vector}, q.q) ELSE 0 END"], []
    for alias, model in (("c", CoeDocument), ("t", TimelineEvent), ("a", ActionItem)):
        part = col(model, "search_vector")
        laterals.append(
            f"LEFT JOIN LATERAL (SELECT max(ts_rank({part}, q.q)) AS r FROM {quote(model._meta.db_table)} "
            f"WHERE {col(model, 'incident')} = i.{pk} AND {part} @@ q.q) {alias} ON true"
        )
        ranks.append(f"coalesce({alias}.r, 0)")
        found.append(f"{alias}.r IS NOT NULL")
    return (
        f"SELECT i.{pk} AS id, {' + '.join(ranks)} AS rank, i.{col(Incident, 'primary_cause')} AS primary_cause, "
        f"i.{col(Incident, 'severity')} AS severity, i.{col(Incident, 'status')} AS status, "
        f"i.{col(Incident, 'started_at')} AS started_at, "
        f"EXISTS(SELECT 1 FROM {ai} a WHERE a.{col(AIInvolvement, 'incident')} = i.{pk}) AS has_ai "
        f"FROM (SELECT websearch_to_tsquery(%s::regconfig, %s) AS q, %s AS key) q CROSS JOIN {incident} i "
        f"{' '.join(laterals)} WHERE i.{pk} IN ({latest_sql}) "
        f"AND (i.{vector} @@ q.q OR i.{col(Incident, 'key')} = q.key OR {' OR '.join(found)})"
    )


def _is_broad(text: str) -> bool:
    """Whether the planner expects the text to match more than BROAD_ROWS rows in the searched tables.

    From the tables' statistics (the frequent lexemes and their share of the rows): planning, not
    reading a row. A word in nearly every COE is among each table's most common lexemes, whose
    estimates are close (79,458 COEs expected for 79,500 at 100,000 incidents).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {_matching_rows_sql()}", [CONFIG, text] * 4)
        [plan] = cursor.fetchone()[0]  # psycopg reads json as Python values
    return plan["Plan"]["Plan Rows"] > BROAD_ROWS


def _matching_rows_sql() -> str:
    q = "websearch_to_tsquery(%s::regconfig, %s)"
    branches = []
    for model in (Incident, CoeDocument, TimelineEvent, ActionItem):
        vector = connection.ops.quote_name(model._meta.get_field("search_vector").column)
        branches.append(f"SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {vector} @@ {q}")
    return " UNION ALL ".join(branches)


def _search(
    base: QuerySet[Incident], text: str, number: int, *, broad: bool = False
) -> tuple[list, list[tuple[int, float]]]:
    """One statement: the matches found and ranked once, then grouped for the facets and sliced for page `number`.

    Returns the facets' group counts (as _facet_values reads them) and the page's (id, rank) in
    rank order, ties newest first: the facets and the ranking do not each find the matches again
    (a broad word would mean reading every COE's vector once more). `broad`: only the matches among
    the latest BROAD_LATEST incidents of the base.
    """
    try:
        if broad:
            latest = base.order_by("-started_at", "-id").values("pk")[:BROAD_LATEST]
            latest_sql, latest_params = latest.query.sql_with_params()
            hits, hits_params = _latest_hits_sql(latest_sql), [CONFIG, text, text.strip().upper(), *latest_params]
        else:
            base_sql, base_params = base.order_by().values("pk").query.sql_with_params()
            hits, hits_params = _hits_sql(base_sql), [*[CONFIG, text] * 8, text.strip().upper(), *base_params]
    except EmptyResultSet:  # visible_to() of nobody
        return [], []
    order = "rank DESC, started_at DESC, id DESC"
    sql = (
        f"WITH {HITS} AS MATERIALIZED ({hits}) "
        "SELECT f.groups, p.ids, p.ranks FROM"
        " (SELECT json_agg(json_build_array(primary_cause, severity, status, year, has_ai, n)) AS groups FROM ("
        "   SELECT primary_cause, severity, status, EXTRACT(YEAR FROM started_at AT TIME ZONE %s)::int AS year,"
        f"  has_ai, count(*) AS n FROM {HITS} GROUP BY 1, 2, 3, 4, 5) g) f,"
        f" (SELECT array_agg(id ORDER BY {order}) AS ids, array_agg(rank ORDER BY {order}) AS ranks FROM ("
        f"   SELECT id, rank, started_at FROM {HITS} ORDER BY {order} LIMIT %s OFFSET %s) page) p"
    )
    params = [
        *hits_params,
        timezone.get_current_timezone_name(),
        PAGE_SIZE,
        (number - 1) * PAGE_SIZE,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        groups, ids, ranks = cursor.fetchone()
    return groups or [], list(zip(ids or [], ranks or [], strict=True))


def _page_incidents(ranked: list[tuple[int, float]], text: str) -> list[Incident]:
    """The page's incidents in rank order, with their headlines, AI flag and rank."""
    query = _query(text)
    rows = (
        Incident.objects.filter(pk__in=[pk for pk, _ in ranked])
        .with_ai_flag()
        .annotate(
            title_html=SearchHeadline(
                "title", query, config=CONFIG, start_sel=START, stop_sel=STOP, highlight_all=True
            ),
            summary_html=_headline("summary", query, max_words=35, min_words=15),
        )
    )
    by_pk = {incident.pk: incident for incident in rows}
    page = []
    for pk, rank in ranked:
        by_pk[pk].rank = rank
        page.append(by_pk[pk])
    return page


def _page_number(page) -> int | None:
    """The page parameter as Paginator.get_page reads it, before the count is known: 1 if it is not
    an integer, None if it is below 1 (get_page gives the last page then, as past the end)."""
    try:
        number = int(page)
    except (TypeError, ValueError):
        return 1
    # Past any real last page, and small enough for the query's OFFSET (a bigint).
    return min(number, MAX_PAGE) if number >= 1 else None


def _results(
    user, text: str, filters: dict[str, str], page, among: QuerySet[Incident] | None, *, broad: bool
) -> tuple[list, Page]:
    base = _apply_filters((among if among is not None else Incident.objects).visible_to(user), filters)
    number = _page_number(page)
    groups, ranked = _search(base, text, number or 1, broad=broad)
    facet_values = _facet_values(groups, filters)
    paginator = _CountedPaginator((), PAGE_SIZE, count=_total(facet_values))
    if number is None or number > paginator.num_pages:
        # Out of range: the last page, as get_page gives (the matches are found once more).
        number = paginator.num_pages
        _groups, ranked = _search(base, text, number, broad=broad)
    return facet_values, Page(_page_incidents(ranked, text), number, paginator)


def matching(user, text: str, filters: dict[str, str] | None = None) -> QuerySet[Incident]:
    """The visible incidents matching the text (and facet filters), unordered."""
    incidents = Incident.objects.visible_to(user)
    incidents = _matches(incidents, text)
    return _apply_filters(incidents, filters or {})


# Snippets.
def _marked(headline: str | None) -> SafeString:
    """ts_headline output made safe: escape everything, then turn the markers into <mark>."""
    text = escape(headline or "")
    return mark_safe(text.replace(START, "<mark>").replace(STOP, "</mark>"))  # escaped above


def _has_mark(headline: str | None) -> bool:
    return bool(headline) and START in headline


# Hits inside an incident: the exact COE section, timeline event or action item.
def _section_label(key: str) -> str:
    section = SECTIONS_BY_KEY[key]
    return f"COE · {section.title}"


def _coe_url(key: str, section: str) -> str:
    return f"{reverse('incidents:coe', args=[key])}#section-{section}"


def _timeline_label(row: dict) -> str:
    from .models.vocab import TimelineKind
    from .times import PreciseTime

    # At the precision it is known, in its source's zone: a date is never shown with a clock time.
    when = PreciseTime(row["occurred_at"], row["precision"], row["estimated"], row["display_tz"])
    return f"Timeline · {when.label()} · {TimelineKind(row['kind']).label}"


def _action_hit(key: str, item_id: int, title_html: SafeString, description_html: SafeString | None) -> Hit:
    """An action item: its title, highlighted, and the matching part of its description if any."""
    snippet = title_html if description_html is None else mark_safe(f"{title_html} — {description_html}")
    return Hit("action", "Action item", reverse("incidents:action-item", args=[key, item_id]), snippet)


def _hits(keys: dict[int, str], text: str) -> dict[int, list[Hit]]:
    query = _query(text)
    hits: dict[int, list[Hit]] = {pk: [] for pk in keys}

    def headline(expression) -> SearchHeadline:
        return _headline(expression, query, max_words=30, min_words=12)

    coes = (
        CoeDocument.objects.filter(incident_id__in=keys)
        .filter(search_vector=query)
        .annotate(**{f"h_{key}": headline(key) for key in SECTION_KEYS})
        .values("incident_id", *(f"h_{key}" for key in SECTION_KEYS))
    )
    for row in coes:
        key = keys[row["incident_id"]]
        for section in SECTION_KEYS:
            if _has_mark(row[f"h_{section}"]):
                hits[row["incident_id"]].append(
                    Hit("coe", _section_label(section), _coe_url(key, section), _marked(row[f"h_{section}"]))
                )
    events = (
        TimelineEvent.objects.filter(incident_id__in=keys)
        .filter(search_vector=query)
        .annotate(h=headline("description"), r=SearchRank(VECTOR, query))
        .order_by("incident_id", "-r", "occurred_at")
        .values("incident_id", "kind", "occurred_at", "precision", "estimated", "display_tz", "h")
    )
    for row in events:
        key = keys[row["incident_id"]]
        hits[row["incident_id"]].append(
            Hit(
                "timeline",
                _timeline_label(row),
                f"{reverse('incidents:detail', args=[key])}#h-timeline",
                _marked(row["h"]),
            )
        )
    items = (
        ActionItem.objects.filter(incident_id__in=keys)
        .filter(search_vector=query)
        .annotate(ht=headline("title"), hd=headline("description"), r=SearchRank(VECTOR, query))
        .order_by("incident_id", "-r", "id")
        .values("incident_id", "id", "title", "ht", "hd")
    )
    for row in items:
        key = keys[row["incident_id"]]
        hits[row["incident_id"]].append(
            _action_hit(key, row["id"], _marked(row["ht"]), _marked(row["hd"]) if _has_mark(row["hd"]) else None)
        )
    return hits


def _trim(hits: list[Hit]) -> list[Hit]:
    """At most a few hits of each kind per incident, COE sections first."""
    kept, seen = [], {}
    for hit in sorted(hits, key=lambda h: ("coe", "timeline", "action").index(h.kind)):
        seen[hit.kind] = seen.get(hit.kind, 0) + 1
        if seen[hit.kind] <= HITS_PER_KIND:
            kept.append(hit)
    return kept


# Facets: counts over the visible matching incidents, grouped in _search's statement.
# What the facets count by: each match falls in one group of these, counted in the database.
FACET_GROUP = ("primary_cause", "severity", "status", "year", "ai_involved")


def _facet_values(groups, selected: dict[str, str]) -> list[tuple[str, str, list[FacetValue]]]:
    """The facets from the matches' group counts: (cause, severity, status, year, has AI, count) rows."""
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for *values, n in groups:
        for name, value in zip(FACET_GROUP, values, strict=True):
            key = str(value).lower() if name == "ai_involved" else str(value)
            counts[name][key] = counts[name].get(key, 0) + n
    result = []
    for name, (label, choices) in FACETS.items():
        if choices is None:  # years, newest first
            found = sorted(counts[name].items(), key=lambda item: item[0], reverse=True)
            values = [FacetValue(year, year, n, selected.get(name) == year) for year, n in found]
        else:
            values = [
                FacetValue(value, text, counts[name][value], selected.get(name) == value)
                for value, text in choices.items()
                if counts[name].get(value)
            ]
            if name == "primary_cause":
                values.sort(key=lambda v: -v.count)
        result.append((name, label, values))
    return result


def _total(facet_values) -> int:
    # Every incident has one cause, so the cause facet's counts add up to the number of matches.
    return sum(value.count for name, _label, values in facet_values if name == "primary_cause" for value in values)


class _CountedPaginator(Paginator):
    """A paginator told its count, which the caller already has."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def search(
    user,
    text: str,
    filters: dict[str, str] | None = None,
    *,
    page: int | str | None = 1,
    among: QuerySet[Incident] | None = None,
) -> SearchResults:
    """The matches among the incidents `user` may see, or among `among` of them (a narrower set, e.g. the
    list's filters by service or period), ranked, with facets and snippets. A broad search (_is_broad)
    ranks and counts the matches among the latest BROAD_LATEST of them (`latest` says so)."""
    text = (text or "").strip()[:200]
    filters = filters or {}
    if not text:
        return SearchResults(text, filters, None, [], [])
    broad = _is_broad(text)
    facet_values, page_obj = _results(user, text, filters, page, among, broad=broad)
    incidents = list(page_obj.object_list)
    results = []
    if incidents:
        hits = _hits({incident.pk: incident.key for incident in incidents}, text)
        for incident in incidents:
            title, snippet = _marked(incident.title_html), _marked(incident.summary_html)
            results.append(Result(incident, title, snippet, _trim(hits[incident.pk])))
    return SearchResults(text, filters, page_obj, results, facet_values, BROAD_LATEST if broad else None)


# Similar past incidents, for the incident page.
SIMILAR_LIMIT = 5
# How many of the latest earlier incidents each reason (service, cause, words) puts forward to be scored.
SIMILAR_CANDIDATES = 50


@dataclass
class Similar:
    incident: Incident
    reasons: list[str]


# Words too common in incident titles to make two incidents alike.
COMMON = {"with", "from", "after", "during", "into", "that", "this", "their", "about", "over", "when", "while"}


def _title_words(title: str) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z0-9][\w-]*", title) if len(w) >= 4 and w.lower() not in COMMON]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def similar_incidents(incident: Incident, user, *, limit: int = SIMILAR_LIMIT) -> list[Similar]:
    """Earlier incidents this user may see that share a service or the cause, or have close text.

    Close text: at least two of this incident's title words appear (stemmed) in the other's
    title, summary, impact or trigger. Score: a shared service 2, the same cause 2, each shared
    word 0.5; ties go to the latest. One query.

    Only a bounded set is scored: the latest `SIMILAR_CANDIDATES` earlier incidents sharing a
    service, the latest with the same cause and the latest sharing a title word, each read newest
    first from an index (docs/search.md). A common word or cause no longer means scoring a third of
    the knowledge base; the price is that an older incident is suggested only if it is among the
    latest of one of the three.
    """
    service_ids = [s.pk for s in incident.services.all()]
    cause = incident.primary_cause if incident.primary_cause != PrimaryCause.UNDETERMINED else None
    words = _title_words(incident.title)
    earlier = (
        Incident.objects.visible_to(user)
        .exclude(pk=incident.pk)
        .filter(started_at__lt=incident.started_at)
        .order_by("-started_at", "-id")
    )
    link = Incident.services.through.objects.filter(incident_id=OuterRef("pk"), service_id__in=service_ids)
    parts = []
    if service_ids:
        parts.append(earlier.filter(Exists(link)))
    if cause:
        parts.append(earlier.filter(primary_cause=cause))
    if words:
        any_word = SearchQuery(" or ".join(words), search_type="websearch", config=CONFIG)
        parts.append(earlier.filter(search_vector=any_word))
    if not parts:
        return []
    latest = [part.values("pk")[:SIMILAR_CANDIDATES] for part in parts]
    candidates = latest[0].union(*latest[1:]) if len(latest) > 1 else latest[0]
    shared_words = Value(0)
    for word in words:
        condition = SearchVectorExact(VECTOR, SearchQuery(word, search_type="plain", config=CONFIG))
        shared_words = shared_words + Case(When(condition, then=Value(1)), default=Value(0))
    close_enough = min(2, len(words)) if words else 1000
    found = (
        Incident.objects.filter(pk__in=candidates)
        .annotate(
            same_service=Exists(link) if service_ids else Value(False),
            same_cause=ExpressionWrapper(Q(primary_cause=cause), output_field=BooleanField())
            if cause
            else Value(False),
            shared_words=ExpressionWrapper(shared_words, output_field=IntegerField()),
            # The panel links to the lessons of an approved COE; the rest of the COE is not read.
            coe_approved_at=F("coe__approved_at"),
        )
        .annotate(
            score=Case(When(same_service=True, then=Value(2.0)), default=Value(0.0))
            + Case(When(same_cause=True, then=Value(2.0)), default=Value(0.0))
            + F("shared_words") * Value(0.5)
        )
        .filter(Q(same_service=True) | Q(same_cause=True) | Q(shared_words__gte=close_enough))
        .order_by("-score", "-started_at", "-id")[:limit]
    )
    result = []
    for other in found:
        reasons = []
        if other.same_service:
            reasons.append("same service")
        if other.same_cause:
            reasons.append("same cause")
        if other.shared_words >= close_enough:
            reasons.append("similar words")
        result.append(Similar(other, reasons))
    return result
