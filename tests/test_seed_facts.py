"""Every seeded statement says whose it is: cited to one of its incident's sources, or marked as ours.

The seed files are read as written (each free-text statement cited or ours), then the database as
seeded (each record's basis and source, each AI involvement field's citation). Below them, the
corrections of the fact check against shared/DOMAIN.md are pinned one by one.
"""

from datetime import date, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Q

from incidents.models import (
    CITABLE_AI_FIELDS,
    SECTIONS,
    ActionItem,
    AIInvolvement,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    Service,
    Source,
    TimelineEvent,
)
from incidents.models.vocab import ActionStatus, Basis, ControlStatus, TimePrecision
from incidents.seed import data, kiro_2025, replit_2025, retail_2026_03, us_east_1_2025
from incidents.seed.common import LINE, OURS_MARKER, Statement, cited, ours, render
from incidents.seed.loader import INCIDENT_TEXT_FIELDS
from incidents.times import PreciseTime

SPECS = {spec["external_id"]: spec for spec in data.INCIDENTS}
WORDS = {key: spec["cite_as"] for key, spec in data.SOURCES.items()}
# Values that say nothing is known: an AI involvement field holding one states no fact.
NOT_STATED = ("", "unknown")


def problems(statements, allowed: set[str]) -> list[str]:
    """What is wrong with a seeded text: a bare string, a statement neither cited nor ours (or both),
    a citation of a source that is not among `allowed`."""
    if not isinstance(statements, list):
        return [f"not a list of statements: {statements!r}"]
    found = []
    for statement in statements:
        if not isinstance(statement, Statement):
            found.append(f"neither cited nor ours: {statement!r}")
        elif statement is LINE:
            continue
        elif statement.ours and statement.sources:
            found.append(f"both cited and ours: {statement.text!r}")
        elif not statement.ours and not statement.sources:
            found.append(f"neither cited nor ours: {statement.text!r}")
        else:
            found += [
                f"{statement.text!r} cites {key}, not one of its sources"
                for key in statement.sources
                if key not in allowed
            ]
    return found


def seeded_texts():
    """(where, statements, the source keys its citations may name) for every free text in the seed."""
    for external_id, spec in SPECS.items():
        allowed = set(spec["sources"])
        for name in INCIDENT_TEXT_FIELDS:
            yield f"{external_id} {name}", spec[name], allowed
        coe = spec.get("coe")
        if coe:
            for key, statements in coe["sections"].items():
                yield f"{external_id} COE {key}", statements, allowed
            for number, chain in enumerate(coe["whys"], start=1):
                yield f"{external_id} COE whys {number} cause", chain["cause"], allowed
                for link_number, link in enumerate(chain["links"], start=1):
                    yield f"{external_id} COE whys {number}.{link_number}", link, allowed
    for control in data.CONTROLS:
        # A control's statement cites its own sources, which are sources of the incidents it answers.
        incident_sources = set().union(*(SPECS[ext]["sources"] for ext in control["incidents"]))
        yield f"control {control['name']}", control["description"], set(control["sources"]) & incident_sources


TEXTS = list(seeded_texts())


class TestTheSeedFiles:
    @pytest.mark.parametrize(("where", "statements", "allowed"), TEXTS, ids=[t[0] for t in TEXTS])
    def test_every_statement_is_cited_to_its_incidents_sources_or_ours(self, where, statements, allowed):
        assert problems(statements, allowed) == []

    def test_the_walk_reaches_every_kind_of_text(self):
        places = " ".join(where for where, _, _ in TEXTS)
        for part in (*INCIDENT_TEXT_FIELDS, "COE summary", "COE related_items", "whys 1 cause", "whys 2.3", "control"):
            assert part in places, part

    def test_the_check_fails_on_an_unattributed_statement_and_a_foreign_citation(self):
        assert problems("A bare string", {"ft_kiro"})
        assert problems(["A bare string in a list"], {"ft_kiro"})
        assert problems([cited("A citation removed")], {"ft_kiro"})
        assert problems([cited("Cited to another incident's source", "bi_retail")], {"ft_kiro"})
        assert problems([Statement("Both", ("ft_kiro",), ours=True)], {"ft_kiro"})
        assert problems([cited("Fine", "ft_kiro"), ours("Also fine"), LINE], {"ft_kiro"}) == []

    def test_every_ai_field_is_cited_or_listed_as_ours_never_both(self):
        for spec in SPECS.values():
            for ai in spec["ai"]:
                cited_fields, our_fields = set(ai["cited"]), set(ai["ours"])
                assert not cited_fields & our_fields, ai["agent_name"]
                assert set(ai["cited"].values()) <= set(spec["sources"]), ai["agent_name"]
                stated = {name for name in CITABLE_AI_FIELDS if ai.get(name, ai["agent_name"]) not in NOT_STATED}
                assert stated == cited_fields | our_fields, ai["agent_name"]


class TestRendering:
    def test_a_cited_statement_ends_with_its_sources_in_words(self):
        text = render([cited("Cost Explorer was interrupted", "ft_kiro", "register_kiro")], WORDS)
        assert text == "Cost Explorer was interrupted (FT, via The Register; The Register)."

    def test_a_run_of_ours_is_marked_once_and_a_list_item_keeps_its_bullet(self):
        statements = [cited("Reported", "ft_kiro"), ours("One"), ours("Two"), LINE, ours("- Three")]
        assert render(statements, WORDS) == (
            f"Reported (FT, via The Register). {OURS_MARKER} One. Two.\n- {OURS_MARKER} Three."
        )

    @pytest.mark.parametrize(
        "statement", [Statement("Neither"), Statement("Both", ("ft_kiro",), ours=True), cited("Stop.", "ft_kiro")]
    )
    def test_an_unattributed_or_badly_written_statement_is_refused(self, statement):
        with pytest.raises(ValueError, match="statement"):
            render([statement], WORDS)


@pytest.fixture
def seeded(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", "--allow-demo-users", stdout=StringIO())


def incident(external_id: str) -> Incident:
    return Incident.objects.get(external_id=external_id)


def source_ids(inc: Incident) -> set[int]:
    return set(inc.sources.values_list("pk", flat=True))


@pytest.mark.usefixtures("seeded")
class TestTheSeededDatabase:
    def test_every_seeded_incident_is_demo_data_and_shows_its_text_with_citations(self):
        for external_id, spec in SPECS.items():
            inc = incident(external_id)
            assert inc.demo
            for name in INCIDENT_TEXT_FIELDS:
                assert getattr(inc, name) == render(spec[name], WORDS), name
        # The text a reader sees carries the marks, not only the seed files.
        kiro = incident(kiro_2025.EXTERNAL_ID)
        assert "(FT, via The Register)." in kiro.summary
        assert f"{OURS_MARKER} The attribution is disputed." in kiro.summary

    def test_every_event_figure_and_action_is_reported_by_its_incidents_source_or_ours(self):
        for model in (TimelineEvent, ImpactFigure, ActionItem):
            rows = model.objects.filter(incident__external_id__in=SPECS).select_related("incident")
            assert rows.exists()
            for row in rows:
                assert row.basis in Basis.values, row
                if row.basis == Basis.REPORTED:
                    assert row.source_id is not None, f"{model.__name__} {row} is reported but cites nothing"
                if row.source_id is not None:
                    assert row.source_id in source_ids(row.incident), f"{model.__name__} {row}"
        assert not ActionItem.objects.filter(basis=Basis.PROPOSAL, source__isnull=False).exists()

    def test_every_claim_cites_one_of_its_incidents_sources(self):
        for claim in Claim.objects.filter(incident__external_id__in=SPECS).select_related("incident"):
            assert claim.source_id in source_ids(claim.incident), claim.statement

    def test_every_control_cites_sources_of_the_incidents_it_answers(self):
        for control in Control.objects.prefetch_related("sources", "incidents__sources"):
            assert control.basis == Basis.REPORTED
            cited_ids = {s.pk for s in control.sources.all()}
            incident_sources = {s.pk for inc in control.incidents.all() for s in inc.sources.all()}
            assert cited_ids, control.name
            assert cited_ids <= incident_sources, control.name

    def test_every_stated_ai_field_is_cited_to_the_incidents_sources_or_ours(self):
        involvements = AIInvolvement.objects.select_related("incident").prefetch_related("citations")
        assert involvements.count() == sum(len(spec["ai"]) for spec in SPECS.values())
        for involvement in involvements:
            spec = next(
                a for a in SPECS[involvement.incident.external_id]["ai"] if a["agent_name"] == involvement.agent_name
            )
            citations = {c.field: c.source_id for c in involvement.citations.all()}
            assert set(citations.values()) <= source_ids(involvement.incident)
            for name in CITABLE_AI_FIELDS:
                if getattr(involvement, name) in NOT_STATED:
                    assert name not in citations, name
                else:
                    assert (name in citations) != (name in spec["ours"]), f"{involvement}: {name}"

    def test_no_source_reports_what_happened_after_it_was_published(self):
        events = TimelineEvent.objects.filter(
            basis=Basis.REPORTED, source__published_on__isnull=False, source__published_approx=False
        ).select_related("source")
        assert events.exists()
        for event in events:
            assert event.occurred_at.date() <= event.source.published_on, event.description

    def test_coe_sections_and_whys_are_the_rendered_statements(self):
        coe = CoeDocument.objects.get(incident__external_id=kiro_2025.EXTERNAL_ID)
        for section in SECTIONS:
            assert getattr(coe, section.key) == render(kiro_2025.COE["sections"][section.key], WORDS)
        assert coe.whys[0]["links"][2] == render(kiro_2025.COE["whys"][0]["links"][2], WORDS)
        assert coe.revisions.get().data["whys"] == coe.whys


@pytest.mark.usefixtures("seeded")
class TestCorrections:
    """The fact check's findings, each pinned so it cannot come back."""

    def test_kiro_coe_lists_no_incident_that_became_public_after_it_as_prior_similar(self):
        coe = CoeDocument.objects.get(incident__external_id=kiro_2025.EXTERNAL_ID)
        # The March 2026 retail incidents became public on 03-10/11; the COE was published on 03-09.
        assert coe.published_at.date() < date(2026, 3, 10)
        assert "March 2026" not in coe.related_items
        assert "Amazon.com" not in coe.related_items
        assert "Q Developer (FT, via The Register)." in coe.related_items
        assert "Amazon Q Developer" not in coe.related_items

    def test_peer_review_is_not_verified_on_an_invented_date(self):
        action = ActionItem.objects.get(title="Mandatory peer review for production access")
        assert action.status != ActionStatus.VERIFIED
        assert action.completed_at is None
        assert action.basis == Basis.REPORTED

    def test_training_keeps_the_sources_words_and_no_completion_date(self):
        action = ActionItem.objects.get(incident__external_id=kiro_2025.EXTERNAL_ID, title__startswith="Training")
        assert "agent" not in action.title.lower()
        assert action.completed_at is None

    def test_the_senior_sign_off_rule_credits_business_insider_and_is_not_in_force(self):
        scout = Source.objects.get(url="https://thedailyscout.com/")
        assert "Business Insider" in scout.title
        assert "FT" not in scout.title + scout.note
        assert "Financial Times" not in scout.title + scout.note
        claim = Claim.objects.get(source=scout)
        assert claim.claimant.startswith("Business Insider")
        control = Control.objects.get(name__startswith="Senior sign-off")
        assert "(Business Insider, via thedailyscout.com)." in control.description
        assert "FT" not in control.owner_name
        assert control.status != ControlStatus.ACTIVE
        action = ActionItem.objects.get(title__startswith="Senior sign-off")
        assert action.description.startswith("Reported by Business Insider")

    def test_us_east_1_ends_without_claiming_every_service_recovered_and_has_no_one_mitigation(self):
        inc = incident(us_east_1_2025.EXTERNAL_ID)
        end = inc.timeline.get(moment="all-recovered", source__url="https://aws.amazon.com/message/101925/")
        assert "all AWS services" not in end.description
        assert end.occurred_at < inc.timeline.get(moment="redshift-restored").occurred_at
        # DNS was restored at 2:25 AM, when EC2's launch failures began; NLB's errors began later.
        assert inc.mitigated_at is None

    def test_report_counts_cite_what_the_references_give(self):
        assert not Source.objects.filter(url__icontains="downdetector").exists()
        figures = ImpactFigure.objects.filter(name="Downdetector reports").select_related("source")
        assert [(int(f.value), f.source.publisher) for f in figures] == [(11_000_000, "BBC")]

    def test_the_fixes_aws_reported_are_told_in_its_words(self):
        nlb = ActionItem.objects.get(title__startswith="Add a velocity control mechanism")
        assert nlb.description == 'Reported by AWS: an NLB "velocity control mechanism".'
        dwfm = ActionItem.objects.get(title="Build a DWFM recovery test suite")
        assert "since" not in dwfm.description

    def test_march_2_rationale_does_not_put_the_wiki_in_every_account(self):
        rationale = incident(retail_2026_03.MARCH_2_EXTERNAL_ID).adopted_cause_rationale
        assert "both accounts" not in rationale
        assert "wiki" in rationale
        assert "code author" in rationale
        assert f"{OURS_MARKER} Only Amazon's account mentions the wiki" in rationale

    def test_the_sources_say_amazon_q_not_amazon_q_developer_for_the_retail_incidents(self):
        for external_id in (retail_2026_03.MARCH_2_EXTERNAL_ID, retail_2026_03.MARCH_5_EXTERNAL_ID):
            inc = incident(external_id)
            texts = [getattr(inc, name) for name in INCIDENT_TEXT_FIELDS]
            texts += list(inc.ai_involvements.values_list("agent_name", flat=True))
            texts += list(inc.services.values_list("name", flat=True))
            assert not any("Q Developer" in text for text in texts), external_id
        assert not Service.objects.filter(name__icontains="Q Developer").exists()

    def test_a_claim_that_only_names_a_date_claims_no_ai_role(self):
        for publisher in ("Grokipedia", "banandre.com"):
            claim = Claim.objects.get(source__publisher=publisher)
            assert claim.claimed_ai_role == "", publisher

    def test_march_5_quote_says_a_single_operator_could_not_did(self):
        claim = Claim.objects.get(
            incident__external_id=retail_2026_03.MARCH_5_EXTERNAL_ID, claimant__startswith="Business"
        )
        assert "could execute" in claim.statement
        assert "by a single authorized operator" not in claim.statement

    def test_control_owners_are_not_credited_to_a_source_that_does_not_name_them(self):
        assert not Control.objects.filter(owner_name__icontains="per Business Insider").exists()
        assert not Control.objects.filter(description__icontains="after the March 5 outage").exists()
        reset = ActionItem.objects.get(title__startswith='90-day "code safety reset"')
        assert "Tier-1" not in reset.answers_why

    def test_replit_experiment_start_is_counted_back_from_day_9_and_marked_as_ours(self):
        start = incident(replit_2025.EXTERNAL_ID).timeline.get(moment="experiment-starts")
        assert start.occurred_at.date() == date(2025, 7, 10)
        assert start.estimated
        assert start.basis == Basis.READING
        assert PreciseTime(start.occurred_at, start.precision).text() == "2025-07-10"

    def test_replit_fabrication_and_masads_response_are_not_dated_without_a_source(self):
        timeline = incident(replit_2025.EXTERNAL_ID).timeline
        assert not timeline.filter(description__icontains="fabricat").exists()
        assert not timeline.filter(Q(description__icontains="Masad") | Q(moment="ceo-responds")).exists()

    def test_unsourced_classifications_are_ours_or_gone(self):
        kiro = AIInvolvement.objects.get(agent_name="Kiro")
        assert not kiro.citations.filter(field__in=["autonomy_level", "gate_bypassed", "permissions_held"]).exists()
        replit = AIInvolvement.objects.get(agent_name="Replit Agent")
        assert replit.action_class == ""  # not "destructive SQL": no source says how it deleted the data
        assert replit.gate_present == "unknown"
        assert replit.gate_type == "unknown"
        coe = CoeDocument.objects.get(incident__external_id=kiro_2025.EXTERNAL_ID)
        assert "Dates are UTC" not in coe.timeline_narrative
        assert f"(FT, via The Register). {OURS_MARKER} We read this as the sign-off" in coe.whys[0]["links"][2]

    def test_times_known_to_a_quarter_month_or_day_keep_that_precision(self):
        trend = TimelineEvent.objects.filter(moment="incident-trend-starts").first()
        assert PreciseTime(trend.occurred_at, trend.precision).text() == "Q3 2025"
        kiro = incident(kiro_2025.EXTERNAL_ID)
        assert PreciseTime(kiro.started_at, kiro.time_precision).text() == "December 2025"
        for inc in Incident.objects.filter(external_id__in=SPECS).exclude(external_id=us_east_1_2025.EXTERNAL_ID):
            assert inc.time_precision in (TimePrecision.DAY, TimePrecision.MONTH)
            # A date is stored at 00:00 UTC, as the app stores dates, never as a clock time.
            assert inc.started_at.timetz().replace(tzinfo=None) == datetime.min.time()


@pytest.mark.usefixtures("seeded")
class TestReseedingAnOlderSeed:
    def test_renamed_records_are_renamed_in_place_and_withdrawn_facts_deleted(self):
        march_2 = incident(retail_2026_03.MARCH_2_EXTERNAL_ID)
        agent = march_2.ai_involvements.get()
        AIInvolvement.objects.filter(pk=agent.pk).update(agent_name="Amazon Q Developer")
        Service.objects.filter(name="Amazon Q").update(name="Amazon Q Developer")
        training = ActionItem.objects.get(title__startswith="Training")
        ActionItem.objects.filter(pk=training.pk).update(
            title="Agent-access training for engineers who run agents against production"
        )
        us_east_1 = incident(us_east_1_2025.EXTERNAL_ID)
        downdetector = Source.objects.create(
            url="https://downdetector.com/", title="Downdetector", publisher="Downdetector", kind="analyst"
        )
        us_east_1.sources.add(downdetector)
        ImpactFigure.objects.create(
            incident=us_east_1, name="Downdetector reports", value=6_500_000, source=downdetector
        )

        call_command("seed_demo", "--allow-demo-users", stdout=StringIO())

        assert march_2.ai_involvements.get().pk == agent.pk
        assert march_2.ai_involvements.get().agent_name == "Amazon Q"
        assert ActionItem.objects.get(pk=training.pk).title.startswith("Training, reported")
        assert list(march_2.services.filter(name__startswith="Amazon Q").values_list("name", flat=True)) == ["Amazon Q"]
        assert not Source.objects.filter(url="https://downdetector.com/").exists()
        assert not ImpactFigure.objects.filter(value=6_500_000).exists()
