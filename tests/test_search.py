"""Knowledge-base search (/search/?q=) and similar past incidents: PostgreSQL full-text search."""

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory

from incidents import search
from incidents.models import ActionItem, CoeDocument, Incident, TimelineEvent
from incidents.models.coe import SECTION_KEYS

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    CoeDocumentFactory,
    IncidentFactory,
    ServiceFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def started(days_ago: int) -> datetime:
    return datetime(2025, 12, 1, tzinfo=UTC) - timedelta(days=days_ago)


@pytest.fixture
def kb(restricted_group):
    """Five visible incidents that mention DNS in different places, one restricted, one that does not."""
    owner = UserFactory(username="owen")
    title = IncidentFactory(
        title="DNS resolver outage",
        summary="Lookups failed for an hour.",
        severity="SEV1",
        primary_cause="dependency_failure",
        started_at=started(10),
    )
    summary = IncidentFactory(
        title="Checkout errors",
        summary="A bad DNS change broke checkout lookups.",
        severity="SEV2",
        primary_cause="change_config",
        started_at=started(400),
        status="closed",
    )
    body = IncidentFactory(
        title="Payments slow",
        summary="Latency rose for payments.",
        severity="SEV2",
        primary_cause="capacity_overload",
        started_at=started(20),
    )
    CoeDocumentFactory(
        incident=body,
        summary="Payments latency rose.",
        root_cause="The DNS cache expired; DNS queries then timed out. DNS retries made it worse. " * 3,
        lessons_went_wrong="We had no alarm on DNS resolution latency.",
    )
    AIInvolvementFactory(incident=body)
    timeline = IncidentFactory(
        title="Edge failures", summary="Errors at the edge.", severity="SEV3", started_at=started(30)
    )
    TimelineEventFactory(incident=timeline, description="The regional DNS record is empty.", kind="detection")
    action = IncidentFactory(title="Login outage", summary="Users could not log in.", started_at=started(40))
    ActionItemFactory(incident=action, title="Add a DNS health check", owner=owner)
    unrelated = IncidentFactory(title="Disk full", summary="A volume filled up.", started_at=started(50))
    secret = IncidentFactory(
        title="DNS secret exposed",
        summary="Secret DNS zone keys were exposed.",
        restricted=True,
        access_group=restricted_group,
        severity="SEV1",
        started_at=started(5),
    )
    CoeDocumentFactory(incident=secret, root_cause="The DNS zone key was in a public bucket.")
    return SimpleNamespace(
        title=title, summary=summary, body=body, timeline=timeline, action=action, unrelated=unrelated, secret=secret
    )


def results(user, text, **filters):
    return search.search(user, text, filters)


def keys(found) -> list[str]:
    return [r.incident.key for r in found.results]


class TestSearch:
    def test_finds_the_words_everywhere(self, kb, outsider):
        found = results(outsider, "DNS")
        assert set(keys(found)) == {kb.title.key, kb.summary.key, kb.body.key, kb.timeline.key, kb.action.key}
        assert found.total == 5

    def test_hits_link_to_the_exact_place(self, kb, outsider):
        found = {r.incident.key: r for r in results(outsider, "DNS").results}
        body = {hit.url: hit for hit in found[kb.body.key].hits}
        assert f"/incidents/{kb.body.key}/coe/#section-root_cause" in body
        assert f"/incidents/{kb.body.key}/coe/#section-lessons_went_wrong" in body
        assert body[f"/incidents/{kb.body.key}/coe/#section-root_cause"].label == "COE · Root cause"
        assert f"/incidents/{kb.body.key}/coe/#section-summary" not in body  # the COE summary has no DNS
        [timeline_hit] = found[kb.timeline.key].hits
        assert timeline_hit.url == f"/incidents/{kb.timeline.key}/#h-timeline"
        assert timeline_hit.label.startswith("Timeline · ")
        assert timeline_hit.label.endswith("Detection")
        [action_hit] = found[kb.action.key].hits
        item = kb.action.action_items.get()
        assert action_hit.url == f"/incidents/{kb.action.key}/actions/{item.pk}/"
        assert "<mark>DNS</mark>" in action_hit.snippet

    def test_pages_past_the_end_or_not_numbers(self, kb, outsider):
        for n in range(25):
            IncidentFactory(title=f"DNS outage {n}", started_at=started(300 + n))
        total = 5 + 25
        first = search.search(outsider, "DNS", page=1)
        last = search.search(outsider, "DNS", page=2)
        assert (first.total, len(first.results), len(last.results)) == (total, 20, total - 20)
        assert not set(keys(first)) & set(keys(last))
        # As Paginator.get_page: out of range is the last page, anything not a number the first.
        for page in (99, "3", "0", "-3"):
            found = search.search(outsider, "DNS", page=page)
            assert (keys(found), found.page.number) == (keys(last), 2), page
        for page in ("x", None, "2.5"):
            assert keys(search.search(outsider, "DNS", page=page)) == keys(first), page
        # No match at all: an empty first page.
        nothing = search.search(outsider, "zyzzyva", page=3)
        assert (nothing.total, nothing.results, nothing.page.number) == (0, [], 1)

    def test_title_match_comes_first_then_summary_then_body(self, kb, outsider):
        # The body mentions DNS seven times, the title once: the title still wins.
        order = keys(results(outsider, "DNS"))
        assert order[0] == kb.title.key
        assert order.index(kb.summary.key) < order.index(kb.body.key)

    def test_every_word_must_match(self, kb, outsider):
        assert keys(results(outsider, "DNS resolver")) == [kb.title.key]
        assert keys(results(outsider, "DNS kangaroo")) == []

    def test_a_key_finds_its_incident(self, kb, outsider):
        assert keys(results(outsider, kb.unrelated.key)) == [kb.unrelated.key]

    def test_snippets_mark_the_words_and_escape_the_rest(self, kb, outsider):
        IncidentFactory(title="<script>alert(1)</script> DNS <b>bold</b>", summary="<img src=x onerror=alert(1)> DNS")
        found = results(outsider, "DNS")
        html = "".join(str(r.title) + str(r.snippet) + "".join(str(h.snippet) for h in r.hits) for r in found.results)
        assert "<script>" not in html
        assert "<img" not in html
        assert "<b>" not in html
        assert "&lt;script&gt;" in html
        assert re.sub(r"</?mark>", "", html).count("<") == 0  # no tag but <mark>
        first = found.results[0]
        assert "<mark>DNS</mark>" in first.title
        summary = next(r for r in found.results if r.incident == kb.summary)
        assert "<mark>DNS</mark>" in summary.snippet

    def test_facets_count_the_visible_matches(self, kb, outsider):
        facets = {name: {v.value: v.count for v in values} for name, _label, values in results(outsider, "DNS").facets}
        # Title SEV1, summary, body and action SEV2 (the factory's default), timeline SEV3.
        assert facets["severity"] == {"SEV1": 1, "SEV2": 3, "SEV3": 1}
        assert facets["primary_cause"] == {"change_config": 3, "dependency_failure": 1, "capacity_overload": 1}
        assert facets["year"] == {"2025": 4, "2024": 1}
        assert facets["ai_involved"] == {"true": 1, "false": 4}
        assert facets["status"] == {"resolved": 4, "closed": 1}

    def test_years_are_the_sites_time_zone_years(self, outsider, settings):
        settings.TIME_ZONE = "Europe/Berlin"
        # 23:30 UTC on New Year's Eve is already the new year in Berlin.
        late = IncidentFactory(title="Ledger outage", started_at=datetime(2024, 12, 31, 23, 30, tzinfo=UTC))
        found = results(outsider, "ledger")
        years = {v.value: v.count for name, _label, values in found.facets if name == "year" for v in values}
        assert years == {"2025": 1}
        assert keys(results(outsider, "ledger", year="2025")) == [late.key]
        assert keys(results(outsider, "ledger", year="2024")) == []

    def test_facet_filters(self, kb, outsider):
        assert keys(results(outsider, "DNS", severity="SEV1")) == [kb.title.key]
        assert keys(results(outsider, "DNS", ai_involved="true")) == [kb.body.key]
        assert keys(results(outsider, "DNS", ai_involved="false", year="2024")) == [kb.summary.key]
        assert keys(results(outsider, "DNS", status="closed")) == [kb.summary.key]
        assert set(keys(results(outsider, "DNS", primary_cause="change_config"))) == {
            kb.timeline.key,
            kb.action.key,
            kb.summary.key,
        }

    def test_restricted_incidents_only_for_people_allowed(self, kb, outsider, reviewer):
        found = results(outsider, "DNS")
        assert kb.secret.key not in keys(found)
        severities = {v.value: v.count for name, _l, values in found.facets if name == "severity" for v in values}
        assert severities["SEV1"] == 1
        assert results(outsider, "secret zone").total == 0
        assert results(outsider, kb.secret.key).total == 0
        found = results(reviewer, "DNS")
        assert kb.secret.key in keys(found)
        assert found.total == 6
        secret = next(r for r in found.results if r.incident == kb.secret)
        assert [h.label for h in secret.hits] == ["COE · Root cause"]

    def test_an_empty_query_searches_nothing(self, kb, outsider):
        found = results(outsider, "   ")
        assert (found.total, found.results, found.facets) == (0, [], [])


class TestPage:
    def test_anonymous_is_sent_to_login(self, client):
        assert client.get("/search/?q=DNS").status_code == 302

    def test_results_page(self, kb, client_for, outsider):
        content = client_for(outsider).get("/search/", {"q": "DNS"}).content.decode()
        assert "5 incidents match “DNS”" in content
        assert f'href="/incidents/{kb.body.key}/coe/#section-root_cause"' in content
        assert "<mark>DNS</mark>" in content
        assert kb.secret.title not in content
        assert '<a href="/search/" aria-current="page">Search</a>' in content

    def test_facet_links_add_and_remove_the_filter(self, kb, client_for, outsider):
        client = client_for(outsider)
        content = client.get("/search/", {"q": "DNS"}).content.decode()
        assert 'href="?q=DNS&amp;severity=SEV1"' in content
        content = client.get("/search/", {"q": "DNS", "severity": "SEV1"}).content.decode()
        assert "1 incident matches “DNS”" in content
        assert 'href="?q=DNS" aria-current="true"' in content  # the selected value takes the filter off
        assert '<input type="hidden" name="severity" value="SEV1">' in content

    def test_unknown_facet_values_are_ignored(self, kb, client_for, outsider):
        content = client_for(outsider).get("/search/", {"q": "DNS", "severity": "SEV9", "year": "20x5"}).content
        assert b"5 incidents match" in content

    def test_no_query_shows_help(self, client_for, outsider):
        content = client_for(outsider).get("/search/").content.decode()
        assert "Search before you write the next COE" in content

    def test_query_count_does_not_grow_with_the_data(self, kb, client_for, outsider, django_assert_num_queries):
        client = client_for(outsider)
        # 1 session, 2 user, 3 how many rows the planner expects the text to match (is it broad?),
        # 4 the facets: the matches counted by cause, severity, status, year and AI (the same
        # statement finds and ranks the matches and gives the page's ids), 5 the page of incidents
        # (headlines and AI flag included), 6-8 the hits of the page's incidents: COE sections,
        # timeline events, action items; 9 the navigation's review queue (may the user approve, and
        # how many wait: one statement).
        expected = 9
        with django_assert_num_queries(expected):
            client.get("/search/", {"q": "DNS"})
        owner = UserFactory(username="owen")
        for n in range(5):
            extra = IncidentFactory(title=f"DNS outage {n}", started_at=started(100 + n))
            CoeDocumentFactory(incident=extra, root_cause="DNS again", lessons_lucky="DNS luck")
            TimelineEventFactory(incident=extra, description="DNS fails")
            ActionItemFactory(incident=extra, title="Fix DNS", owner=owner)
            AIInvolvementFactory(incident=extra)
        with django_assert_num_queries(expected):
            client.get("/search/", {"q": "DNS"})


class TestBroadSearch:
    """A search the planner expects to match more than BROAD_ROWS rows ranks the matches among the
    latest BROAD_LATEST incidents; the bounds are made small here so they bite on a small knowledge base."""

    @pytest.fixture
    def many(self, kb):
        owner = UserFactory(username="owen-2")
        made = []
        for n in range(12):
            # Alternate where the word is (title, COE, timeline, action item), and how often, so ranks differ.
            incident = IncidentFactory(title=f"Outage {n}" + (" DNS" if n % 4 == 0 else ""), started_at=started(n * 7))
            if n % 4 == 1:
                CoeDocumentFactory(incident=incident, root_cause="DNS " * (1 + n % 3) + "failed.")
            if n % 4 == 2:
                TimelineEventFactory(incident=incident, description="DNS answers stopped.")
            if n % 4 == 3:
                ActionItemFactory(incident=incident, title="Cache DNS answers", owner=owner)
            made.append(incident)
        return made

    def page(self, found) -> list[tuple[str, float]]:
        return [(r.incident.key, r.incident.rank) for r in found.results]

    def test_ranks_the_matches_among_the_latest_incidents(self, kb, many, outsider, monkeypatch):
        unbounded = results(outsider, "DNS")
        assert unbounded.latest is None
        monkeypatch.setattr(search, "BROAD_ROWS", 0)  # every search is broad
        monkeypatch.setattr(search, "BROAD_LATEST", 8)
        broad = results(outsider, "DNS")
        assert broad.latest == 8
        # The same page, ranks, count and facets as the full search among those eight incidents (the
        # latest the outsider may see: the restricted one is not among them).
        latest = Incident.objects.visible_to(outsider).order_by("-started_at", "-id")[:8]
        monkeypatch.setattr(search, "BROAD_ROWS", 10**9)
        among = search.search(outsider, "DNS", among=Incident.objects.filter(pk__in=[i.pk for i in latest]))
        assert among.latest is None
        assert self.page(broad) == self.page(among)
        assert broad.total == among.total < unbounded.total
        assert broad.facets == among.facets
        assert kb.secret.key not in {key for key, _rank in self.page(broad)}

    def test_each_incident_ranks_as_in_the_full_search(self, many, outsider, monkeypatch):
        unbounded = dict(self.page(results(outsider, "DNS")))
        monkeypatch.setattr(search, "BROAD_ROWS", 0)
        monkeypatch.setattr(search, "BROAD_LATEST", 1000)  # the bound does not bite: every incident
        broad = results(outsider, "DNS")
        assert broad.latest == 1000
        assert self.page(broad) == list(unbounded.items())

    def test_the_page_says_the_search_was_bounded(self, many, client_for, outsider, monkeypatch):
        monkeypatch.setattr(search, "BROAD_ROWS", 0)
        monkeypatch.setattr(search, "BROAD_LATEST", 8)
        content = client_for(outsider).get("/search/", {"q": "DNS"}).content.decode()
        assert "of the latest 8 incidents match" in content

    def test_broad_is_what_the_planner_expects_to_match(self, kb, monkeypatch):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # statistics for the few rows here: a handful expected
        assert not search._is_broad("DNS")
        monkeypatch.setattr(search, "BROAD_ROWS", 0)
        assert search._is_broad("DNS")


class TestFullText:
    def test_stemming_and_websearch_syntax(self, kb, outsider):
        IncidentFactory(title="Agent deletes the production database", started_at=started(3))
        assert [r.incident.title for r in results(outsider, "deleted databases").results] == [
            "Agent deletes the production database"
        ]
        assert kb.title.key not in keys(results(outsider, "DNS -resolver"))
        assert keys(results(outsider, '"resolver outage"')) == [kb.title.key]

    def test_rank_weights_title_above_summary_above_body(self, kb, outsider):
        ranks = {r.incident.key: r.incident.rank for r in results(outsider, "DNS").results}
        assert ranks[kb.title.key] > ranks[kb.summary.key] > ranks[kb.body.key]
        assert list(ranks.values()) == sorted(ranks.values(), reverse=True)

    def test_pages_follow_the_ranking(self, kb, outsider):
        for n in range(25):
            IncidentFactory(title=f"DNS outage {n}", summary="DNS " * (n % 5), started_at=started(200 + n))
        first, second = search.search(outsider, "DNS", page=1), search.search(outsider, "DNS", page=2)
        assert first.total == second.total == len(first.results) + len(second.results)
        ranked = [r.incident.rank for r in first.results + second.results]
        assert ranked == sorted(ranked, reverse=True)
        assert not {r.incident.pk for r in first.results} & {r.incident.pk for r in second.results}

    def test_the_gin_index_serves_the_incident_search(self, kb):
        query = search._query("DNS")
        plans = []
        with connection.cursor() as cursor:
            # A handful of rows would always be scanned; ask what it would do on a big table. (PostgreSQL
            # 18 would otherwise walk the primary key and filter: another way not to scan a tiny table.)
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            plans.append(Incident.objects.order_by().filter(search_vector=query).explain())
            plans.append(search.matching(UserFactory(is_superuser=True), "DNS").explain())
        for plan in plans:
            assert "incident_search_gin" in plan, plan
        assert "coedocument_search_gin" in plans[1]
        assert "timeline_search_gin" in plans[1]
        assert "actionitem_search_gin" in plans[1]

    def test_stored_vectors_follow_every_searched_field(self, kb):
        """The generated columns cover each field the search promises, and follow edits."""

        def finds(model, word, **match) -> bool:
            return model.objects.filter(search_vector=search._query(word), **match).exists()

        incident = IncidentFactory(title="Quokka", summary="wombat", customer_impact="numbat", trigger_text="dingo")
        for word in ("quokka", "wombat", "numbat", "dingo"):
            assert finds(Incident, word, pk=incident.pk), word
        Incident.objects.filter(pk=incident.pk).update(title="Platypus")
        assert finds(Incident, "platypus", pk=incident.pk)
        assert not finds(Incident, "quokka", pk=incident.pk)

        coe = CoeDocumentFactory(incident=incident, **{key: f"zz{key.replace('_', '')}" for key in SECTION_KEYS})
        for key in SECTION_KEYS:
            assert finds(CoeDocument, f"zz{key.replace('_', '')}", pk=coe.pk), key
        event = TimelineEventFactory(incident=incident, description="Echidna spotted")
        assert finds(TimelineEvent, "echidna", pk=event.pk)
        item = ActionItemFactory(incident=incident, title="Bilby", description="bandicoot")
        assert finds(ActionItem, "bilby", pk=item.pk)
        assert finds(ActionItem, "bandicoot", pk=item.pk)


class TestSimilar:
    @pytest.fixture
    def history(self, restricted_group):
        dns, web = ServiceFactory(name="dns"), ServiceFactory(name="web")

        def make(title, days_ago, services=(), **fields):
            incident = IncidentFactory(title=title, started_at=started(days_ago), **fields)
            incident.services.add(*services)
            return incident

        return SimpleNamespace(
            current=make("Resolver fleet overloaded by retries", 0, [dns], primary_cause="capacity_overload"),
            same_service=make("Zone transfer stalled", 30, [dns], primary_cause="change_config"),
            same_cause=make("Queue backlog", 60, [web], primary_cause="capacity_overload"),
            both=make("Resolver crash loop", 90, [dns], primary_cause="capacity_overload"),
            close_text=make("Retries overloaded the resolver fleet", 120, [web], primary_cause="data_integrity"),
            unrelated=make("Disk full", 20, [web], primary_cause="hardware_power"),
            later=make("Resolver fleet overloaded again", -10, [dns], primary_cause="capacity_overload"),
            secret=make(
                "Resolver fleet keys leaked",
                15,
                [dns],
                primary_cause="capacity_overload",
                restricted=True,
                access_group=restricted_group,
            ),
        )

    def test_same_service_or_cause_or_close_text(self, history, outsider):
        found = search.similar_incidents(history.current, outsider)
        by_key = {s.incident.key: s.reasons for s in found}
        # Scores: a shared service 2, the same cause 2, each shared title word 0.5; ties go to the latest.
        assert list(by_key) == [
            history.both.key,  # 2 + 2 + 0.5 ("resolver")
            history.same_service.key,  # 2
            history.same_cause.key,  # 2
            history.close_text.key,  # 4 words: resolver, fleet, overloaded, retries
        ]
        assert by_key[history.both.key] == ["same service", "same cause"]
        assert by_key[history.close_text.key] == ["similar words"]
        assert by_key[history.same_service.key] == ["same service"]
        assert history.unrelated.key not in by_key
        assert history.later.key not in by_key  # only past incidents

    def test_only_the_latest_of_each_reason_are_scored(self, history, outsider, monkeypatch):
        monkeypatch.setattr(search, "SIMILAR_CANDIDATES", 1)
        found = [s.incident.key for s in search.similar_incidents(history.current, outsider)]
        # The latest on the service, the latest with the cause, and the latest sharing a title word
        # ("resolver": `both`, which also shares the service and the cause); `close_text` would score,
        # but an incident sharing a word came later.
        assert found == [history.both.key, history.same_service.key, history.same_cause.key]
        monkeypatch.setattr(search, "SIMILAR_CANDIDATES", 2)
        assert history.close_text.key in {s.incident.key for s in search.similar_incidents(history.current, outsider)}

    def test_restricted_ones_only_for_people_allowed(self, history, outsider, reviewer):
        assert history.secret.key not in {s.incident.key for s in search.similar_incidents(history.current, outsider)}
        assert history.secret.key in {s.incident.key for s in search.similar_incidents(history.current, reviewer)}

    def test_the_include_renders_in_one_query(self, history, outsider, django_assert_num_queries):
        request = RequestFactory().get("/")
        request.user = outsider
        incident = Incident.objects.prefetch_related("services").get(pk=history.current.pk)
        # The similar incidents with their COEs (visibility and services are subqueries).
        with django_assert_num_queries(1):
            html = render_to_string("incidents/_similar.html", {"incident": incident, "request": request})
        assert "Similar past incidents" in html
        assert f'href="/incidents/{history.both.key}/"' in html
        assert "same service, same cause" in html
