"""The COE quality linter (incidents/quality.py): one class per rule, L01-L18.

Everything is built with the factories' `.build()`: the linter reads objects
the caller already holds, so these tests need no database except where they
prove it makes no queries.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from incidents.models import SECTIONS, CoeDocument
from incidents.models.vocab import (
    ActionClass,
    ActionStatus,
    ActionType,
    PermissionScope,
    Priority,
    Severity,
    TimelineKind,
    TriState,
)
from incidents.quality import RULES, Finding, QualityReport, check_coe

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    CoeDocumentFactory,
    IncidentFactory,
    TimelineEventFactory,
)

OWNER, AUTHOR, APPROVER = 1, 2, 3
START = datetime(2025, 10, 20, 6, 48, tzinfo=UTC)  # IncidentFactory's start; resolved 5 h later
TODAY = date(2025, 10, 22)

GOOD_SECTIONS = {
    "summary": "A stale DNS plan emptied the orders API record, so checkout failed for 2 hours.",
    "impact": (
        "About 120,000 checkout requests (18% of traffic) failed from 06:48 to 08:48 UTC on 2025-10-20. "
        "Estimate from load balancer logs."
    ),
    "background": (
        "The Network Load Balancer (NLB) fronts the orders API. The DNS Planner writes plans and the "
        "DNS Enactor applies them."
    ),
    "timeline_narrative": "06:48 UTC errors begin. 07:08 UTC the 5xx alarm fires. 08:48 UTC the good plan is back.",
    "metrics": "5xx rate by endpoint: https://dashboards.example.com/d/orders-5xx (peak 18%).",
    "trigger": "The Enactor applied a plan that was 3 generations old.",
    "root_cause": "The Enactor applies plans without comparing generations; its clean-up deletes the active plan.",
    "resolution": "Restored the last good plan from the plan store, then paused the Enactor automation.",
    "detection": "The orders 5xx alarm fired 20 minutes after the start.",
    "q_detection": "Alarm on an empty DNS record within 1 minute.",
    "q_diagnosis": "Page the DNS on-call directly from the orders alarm.",
    "q_mitigation": "Add a runbook step to restore the last good plan.",
    "q_prevention": "Reject stale plans in the Enactor; see the whys.",
    "pillar_implications": "Reliability: one regional endpoint. No security impact.",
    "lessons_went_well": "The plan store kept the last good plan, so restoring took minutes.",
    "lessons_went_wrong": "Nothing stopped a stale plan from being applied.",
    "lessons_lucky": "It happened at low traffic.",
    "related_items": "Ticket https://tickets.example.com/DNS-42; similar to INC-2024-0007.",
}
GOOD_WHYS = [
    {
        "cause": "Stale DNS plan applied",
        "links": [
            "The Enactor applied a plan 3 generations old",
            "The Enactor was delayed and resumed with an old plan in memory",
            "The apply code has no generation check",
        ],
    }
]


@dataclass
class Case:
    """A COE and everything the linter reads, to change one thing and re-check."""

    coe: object
    incident: object
    action_items: list = field(default_factory=list)
    timeline: list = field(default_factory=list)
    ai_involvements: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)

    def check(self, **overrides) -> QualityReport:
        kwargs = {"today": TODAY, "draft_target_days": 7, "author_ids": (OWNER, AUTHOR), **self.kwargs, **overrides}
        return check_coe(
            self.coe,
            incident=self.incident,
            action_items=self.action_items,
            timeline=self.timeline,
            ai_involvements=self.ai_involvements,
            **kwargs,
        )

    def finding(self, rule: str, **overrides) -> Finding:
        return self.check(**overrides).get(rule)


def build_item(incident, title, *, owner_id=OWNER, **kwargs):
    defaults = {
        "action_type": ActionType.PREVENT,
        "priority": Priority.P1,
        "ticket_url": "https://tickets.example.com/DNS-43",
        "due_date": date(2025, 11, 30),
    }
    item = ActionItemFactory.build(incident=incident, title=title, owner=None, **{**defaults, **kwargs})
    item.owner_id = owner_id  # an id, as a form gives it, without building a user
    return item


def build_event(incident, kind, minutes):
    return TimelineEventFactory.build(incident=incident, kind=kind, occurred_at=START + timedelta(minutes=minutes))


@pytest.fixture
def good() -> Case:
    """A COE that passes every rule."""
    incident = IncidentFactory.build(severity=Severity.SEV2)
    coe = CoeDocumentFactory.build(
        incident=incident, whys=GOOD_WHYS, owner_id=OWNER, approver_id=APPROVER, **GOOD_SECTIONS
    )
    return Case(
        coe=coe,
        incident=incident,
        action_items=[
            build_item(incident, "Reject plans older than the active one in the DNS Enactor", priority=Priority.P0),
            build_item(incident, "Alarm when a DNS record has no addresses", action_type=ActionType.DETECT),
            build_item(
                incident,
                "Add the restore-last-good-plan step to the DNS runbook",
                action_type=ActionType.MITIGATE,
                priority=Priority.P2,
            ),
        ],
        timeline=[
            build_event(incident, TimelineKind.START, 0),
            build_event(incident, TimelineKind.DETECTION, 20),
            build_event(incident, TimelineKind.ENGAGEMENT, 27),
            build_event(incident, TimelineKind.MITIGATION, 90),
            build_event(incident, TimelineKind.RESOLUTION, 300),
        ],
        ai_involvements=[
            AIInvolvementFactory.build(
                incident=incident,
                agent_name="PlanBot",
                gate_present=TriState.YES,
                permissions_held=PermissionScope.WRITE_PROD,
                action_class=ActionClass.CONFIG_CHANGE,
            )
        ],
    )


# --------------------------------------------------------------------------
# The whole report
# --------------------------------------------------------------------------


class TestReport:
    def test_rules_are_listed_in_order_with_sources(self):
        assert [rule.id for rule in RULES] == [f"L{n:02d}" for n in range(1, 19)]
        assert {rule.id for rule in RULES if rule.required} == {"L01", "L02", "L04", "L05", "L07", "L11", "L18"}
        assert all(rule.title and rule.source for rule in RULES)
        rule_id, _title, required, _source = RULES[0]  # plain tuples for templates
        assert (rule_id, required) == ("L01", True)

    def test_a_good_coe_passes_every_rule(self, good):
        report = good.check()
        failing = {f.rule: f.messages for f in report.findings if not f.passed}
        assert failing == {}
        assert report.score == 100
        assert report.can_submit
        assert report.failing_required == ()
        assert [f.rule for f in report.findings] == [rule.id for rule in RULES]
        assert all(f.messages == () and f.sections == () for f in report.findings)

    def test_findings_carry_the_rule_metadata(self, good):
        finding = good.finding("L05")
        assert finding.title == "No blame"
        assert finding.required
        assert finding.source == "SRE Workbook ch. 10; AWS Incident Manager"

    def test_an_advisory_failure_costs_one_point_of_25_and_still_allows_submit(self, good):
        good.coe.metrics = ""
        report = good.check()
        assert [f.rule for f in report.findings if not f.passed] == ["L13"]
        assert report.score == 96
        assert report.can_submit

    def test_a_required_failure_counts_double_and_blocks_submit(self, good):
        good.coe.owner_id = None
        report = good.check()
        assert report.score == 92
        assert not report.can_submit
        assert [f.rule for f in report.failing_required] == ["L11"]

    def test_an_empty_coe_scores_low_and_cannot_be_submitted(self, good):
        empty = CoeDocument(incident=good.incident)
        report = check_coe(empty, incident=good.incident, action_items=[], timeline=[], ai_involvements=[], today=TODAY)
        assert not report.can_submit
        assert {f.rule for f in report.failing_required} == {"L01", "L02", "L11"}
        # Rules that look for faults (blame, vague actions...) find none in
        # an empty document: documented in the module docstring.
        assert report.score == 52

    def test_for_section_returns_the_failing_findings_that_point_there(self, good):
        good.coe.trigger = ""
        good.coe.root_cause = "Human error."
        report = good.check()
        assert [f.rule for f in report.for_section("trigger")] == ["L01"]
        assert [f.rule for f in report.for_section("root_cause")] == ["L05"]
        assert report.for_section("summary") == []

    @pytest.mark.django_db
    def test_checking_built_objects_makes_no_queries(self, good, django_assert_num_queries):
        # The approver and owner are ids only: no user, and no coe.authors.
        with django_assert_num_queries(0):
            report = good.check(author_ids=[OWNER])
        assert report.score == 100

    @pytest.mark.django_db
    def test_checking_a_failing_coe_makes_no_queries(self, good, django_assert_num_queries):
        good.coe.summary = ""
        good.action_items[0].owner_id = None
        with django_assert_num_queries(0):
            report = good.check()
        assert not report.can_submit

    def test_any_object_with_the_section_attributes_will_do(self, good):
        form_data = SimpleNamespace(**GOOD_SECTIONS, whys=GOOD_WHYS, owner_id=OWNER, approver_id=APPROVER)
        report = check_coe(
            form_data,
            incident=good.incident,
            action_items=good.action_items,
            timeline=good.timeline,
            ai_involvements=[],
            today=TODAY,
        )
        assert report.score == 100


# --------------------------------------------------------------------------
# One class per rule
# --------------------------------------------------------------------------


class TestL01RequiredSections:
    def test_whitespace_only_counts_as_empty(self, good):
        good.coe.trigger = "  \n\t"
        finding = good.finding("L01")
        assert not finding.passed
        assert finding.messages == ("Section 'Trigger' is empty",)
        assert finding.sections == ("trigger",)

    def test_every_required_section_is_named(self, good):
        for key in ("summary", "impact", "timeline_narrative", "detection", "root_cause", "resolution"):
            setattr(good.coe, key, "")
        finding = good.finding("L01")
        assert finding.messages == (
            "Section 'Summary' is empty",
            "Section 'Impact' is empty",
            "Section 'Timeline' is empty",
            "Section 'Detection' is empty",
            "Section 'Root cause' is empty",
            "Section 'Resolution' is empty",
        )

    def test_either_half_of_the_lessons_is_enough(self, good):
        good.coe.lessons_went_well = ""
        assert good.finding("L01").passed
        good.coe.lessons_went_wrong = ""
        finding = good.finding("L01")
        assert finding.messages == ("Lessons are empty: fill in what went well or what went wrong",)
        assert finding.sections == ("lessons_went_well", "lessons_went_wrong")

    def test_related_items_are_required(self, good):
        good.coe.related_items = ""
        assert "Section 'Related items' is empty" in good.finding("L01").messages

    def test_optional_sections_may_be_empty(self, good):
        good.coe.lessons_lucky = ""
        good.coe.pillar_implications = ""
        assert good.finding("L01").passed

    def test_a_whys_chain_is_required_and_blank_rows_do_not_count(self, good):
        good.coe.whys = [{"cause": " ", "links": ["", "  "]}]
        finding = good.finding("L01")
        assert finding.messages == ("No whys chain: write one chain per root cause",)
        assert finding.sections == ("whys",)

    def test_an_action_item_is_required(self, good):
        good.action_items = []
        finding = good.finding("L01")
        assert finding.messages == ("No action items: add the corrective actions you are taking",)
        assert finding.sections == ("action_items",)


class TestL02Impact:
    @pytest.mark.parametrize(
        "impact",
        [
            "1.6M website errors, 06:48-08:48 UTC",
            "A 99% drop in orders",
            "About 120,000 lost orders",
            "Roughly $5M in lost revenue",
            "Checkout failed for ~15 hours",
        ],
    )
    def test_a_number_passes(self, good, impact):
        good.coe.impact = impact
        assert good.finding("L02").passed

    @pytest.mark.parametrize(
        "impact",
        [
            "Checkout failed in us-east-1 from 06:48 to 08:48 UTC on Oct 20, 2025.",
            "EC2 launches failed on 2025-10-20T06:48:00Z; SEV1.",
            "Many customers could not check out.",
        ],
    )
    def test_dates_times_and_names_with_digits_are_not_numbers(self, good, impact):
        good.coe.impact = impact
        finding = good.finding("L02")
        assert finding.messages == (
            "Impact has no number: say how many users, orders or requests were affected, "
            "or what share or revenue (an estimate is fine)",
        )
        assert finding.sections == ("impact",)

    def test_recorded_start_and_end_stand_in_for_times_in_the_text(self, good):
        good.coe.impact = "About 120,000 checkout requests failed."
        assert good.finding("L02").passed  # the incident has started_at and mitigated_at

    def test_without_recorded_times_the_text_must_name_a_time_zone(self, good):
        good.incident.mitigated_at = good.incident.resolved_at = None
        good.coe.impact = "About 120,000 checkout requests failed from 11:48 PM to 2:20 PM."
        finding = good.finding("L02")
        assert finding.messages == (
            "Impact gives no start and end with a time zone (e.g. '11:48 PM PDT'), "
            "and the incident has no start and end times recorded",
        )

    @pytest.mark.parametrize(
        "times",
        ["11:48 PM PDT to 2:20 PM PDT", "06:48Z to 08:48Z", "06:48+00:00 to 08:48+00:00", "06:48 Europe/Dublin"],
    )
    def test_time_zones_in_the_text(self, good, times):
        good.incident.mitigated_at = good.incident.resolved_at = None
        good.coe.impact = f"About 120,000 checkout requests failed, {times}."
        assert good.finding("L02").passed


class TestL03Timeline:
    def test_reports_time_to_detect_and_mitigate_when_passing(self, good):
        finding = good.finding("L03")
        assert finding.passed
        assert finding.info == ("Time to detect (TTD): 20 min", "Time to mitigate (TTM): 2 h")

    def test_unknown_times_are_said_to_be_unknown(self, good):
        good.incident.detected_at = None
        good.incident.mitigated_at = good.incident.started_at + timedelta(days=1, hours=3, minutes=5)
        assert good.finding("L03").info == (
            "Time to detect (TTD): not recorded",
            "Time to mitigate (TTM): 1 d 3 h 5 min",
        )

    def test_names_the_missing_kinds(self, good):
        good.timeline = [e for e in good.timeline if e.kind not in (TimelineKind.ENGAGEMENT, TimelineKind.RESOLUTION)]
        finding = good.finding("L03")
        assert finding.messages == ("The timeline lacks these events: Engagement, Resolution",)
        assert finding.sections == ("timeline",)

    def test_no_events(self, good):
        good.timeline = []
        assert good.finding("L03").messages == ("The timeline has no events",)

    def test_plain_string_kinds_from_the_database(self, good):
        for event in good.timeline:
            event.kind = str(event.kind)
        assert good.finding("L03").passed

    def test_milestones_out_of_order(self, good):
        detection = next(e for e in good.timeline if e.kind == TimelineKind.DETECTION)
        detection.occurred_at = START - timedelta(minutes=5)
        assert good.finding("L03").messages == ("The first Detection event comes before the first Impact starts event",)

    def test_extra_events_of_other_kinds_are_fine(self, good):
        good.timeline.append(build_event(good.incident, TimelineKind.COMMUNICATION, -30))
        assert good.finding("L03").passed


class TestL04Whys:
    def test_a_short_chain_is_named_by_number_and_cause(self, good):
        good.coe.whys = [*GOOD_WHYS, {"cause": "DNS", "links": ["Record empty", "Clean-up ran", " "]}]
        finding = good.finding("L04")
        assert finding.messages == ("Whys chain 2 ('DNS') has 2 links; write at least 3",)
        assert finding.sections == ("whys",)

    def test_a_last_link_about_a_person_fails(self, good):
        good.coe.whys = [
            {"cause": "Stale plan", "links": ["Old plan applied", "Nobody noticed", "The engineer forgot"]}
        ]
        assert good.finding("L04").messages == (
            "Whys chain 1 ('Stale plan') ends with a person ('The engineer forgot'); "
            "end on the system or control that let it happen",
        )

    @pytest.mark.parametrize("last", ["Human error", "Someone ran it twice", "@rita ran it", "She was tired"])
    def test_person_wording(self, good, last):
        good.coe.whys = [{"cause": "", "links": ["a", "b", last]}]
        assert not good.finding("L04").passed

    def test_a_person_with_the_missing_control_passes(self, good):
        good.coe.whys = [{"cause": "", "links": ["a", "b", "The operator could run it without a two-person review"]}]
        assert good.finding("L04").passed

    def test_no_chains_is_left_to_l01(self, good):
        good.coe.whys = []
        assert good.finding("L04").passed
        assert not good.finding("L01").passed


class TestL05Blame:
    @pytest.mark.parametrize(
        ("key", "text", "message"),
        [
            ("root_cause", "Human error during the push.", "Root cause uses blame wording 'Human error'"),
            (
                "lessons_went_wrong",
                "The on-call should have checked.",
                "Lessons: what went wrong uses blame wording 'should have'",
            ),
            ("root_cause", "Operator error.", "Root cause uses blame wording 'Operator error'"),
            ("root_cause", "A careless push.", "Root cause uses blame wording 'careless'"),
            ("root_cause", "It was the fault of the release team.", "Root cause uses blame wording 'fault of'"),
            ("lessons_went_wrong", "Negligent review.", "Lessons: what went wrong uses blame wording 'Negligent'"),
        ],
    )
    def test_blame_phrases_are_caught_in_their_section(self, good, key, text, message):
        setattr(good.coe, key, text)
        finding = good.finding("L05")
        assert finding.messages == (f"{message}; say what the system allowed",)
        assert finding.sections == (key,)

    def test_handles_are_named(self, good):
        good.coe.root_cause = "@rita pushed the plan."
        assert good.finding("L05").messages == ("Root cause names a person ('@rita'); name the role or the system",)

    def test_whys_are_scanned(self, good):
        good.coe.whys = [{"cause": "Plan", "links": ["a", "b", "The reviewer failed to spot the generation"]}]
        finding = good.finding("L05")
        assert finding.messages == (
            "Whys chain 1 ('Plan') uses blame wording 'failed to'; say what the system allowed",
        )
        assert finding.sections == ("whys",)

    def test_action_item_titles_are_scanned(self, good):
        good.action_items[1].title = "Make sure @sam checks plans"
        finding = good.finding("L05")
        assert finding.messages == (
            "Action item 'Make sure @sam checks plans' names a person ('@sam'); name the role or the system",
        )
        assert finding.sections == ("action_items",)

    @pytest.mark.parametrize(
        "text",
        [
            'Amazon called it "user error, specifically misconfigured access controls".',
            "Amazon called it “user error—specifically misconfigured access controls”.",
        ],
    )
    def test_quoted_claims_are_allowed(self, good, text):
        good.coe.root_cause = text
        assert good.finding("L05").passed

    def test_email_addresses_are_not_handles(self, good):
        good.coe.root_cause = "Alerts went to dns-oncall@example.com, which was unmonitored."
        assert good.finding("L05").passed

    def test_other_sections_are_not_scanned_for_blame(self, good):
        good.coe.lessons_lucky = "An operator error would have made it worse."
        assert good.finding("L05").passed


class TestL06AnimatedLanguage:
    @pytest.mark.parametrize(
        ("key", "text", "phrase", "title"),
        [
            ("impact", "Checkout down for 2 hours!!!", "!!!", "Impact"),
            ("lessons_went_wrong", "A ridiculous gap in the apply code.", "ridiculous", "Lessons: what went wrong"),
            ("summary", "We can\u2019t believe the Enactor ran.", "can\u2019t believe", "Summary"),
            ("pillar_implications", "An insane blast radius.", "insane", "Pillar implications"),
        ],
    )
    def test_caught_in_any_section(self, good, key, text, phrase, title):
        setattr(good.coe, key, text)
        finding = good.finding("L06")
        assert finding.messages == (f"{title} uses animated language '{phrase}'; state the facts",)
        assert finding.sections == (key,)
        assert not finding.required

    def test_quoted_customers_are_reported_not_judged(self, good):
        good.coe.impact = 'About 120,000 failed requests; one customer wrote "this is ridiculous!!!".'
        assert good.finding("L06").passed


class TestL07ActionItemsComplete:
    def test_names_the_item_and_what_it_lacks(self, good):
        item = good.action_items[1]
        item.owner_id, item.due_date, item.ticket_url = None, None, ""
        finding = good.finding("L07")
        assert finding.messages == (
            "Action item 'Alarm when a DNS record has no addresses' has no owner, due date or ticket",
        )
        assert finding.sections == ("action_items",)
        assert finding.required

    def test_type_and_priority(self, good):
        good.action_items[0].action_type = ""
        good.action_items[0].priority = ""
        assert good.finding("L07").messages == (
            "Action item 'Reject plans older than the active one in the DNS Enactor' has no priority or type",
        )

    def test_an_item_without_a_title_is_named_by_position(self, good):
        good.action_items[2].title = ""
        good.action_items[2].ticket_url = ""
        assert good.finding("L07").messages == ("Action item 3 has no ticket",)

    def test_a_wont_do_item_needs_no_ticket_but_still_an_owner(self, good):
        item = good.action_items[2]
        item.status, item.ticket_url = ActionStatus.WONT_DO, ""
        assert good.finding("L07").passed
        item.owner_id = None
        assert not good.finding("L07").passed


class TestL08Prevention:
    def test_needs_a_prevent_item(self, good):
        good.action_items[0].action_type = ActionType.MITIGATE
        finding = good.finding("L08")
        assert finding.messages == ("No 'prevent' action item: add one that stops this from happening again",)

    def test_a_wont_do_prevent_item_does_not_count(self, good):
        good.action_items[0].status = ActionStatus.WONT_DO
        good.action_items[1].action_type = ActionType.DETECT
        assert not good.finding("L08").passed

    @pytest.mark.parametrize(
        ("severity", "passed"), [(Severity.SEV1, False), (Severity.SEV2, False), (Severity.SEV3, True)]
    )
    def test_a_user_facing_incident_needs_a_p0_or_p1_item(self, good, severity, passed):
        good.incident.severity = severity
        for item in good.action_items:
            item.priority = Priority.P2
        finding = good.finding("L08")
        assert finding.passed is passed
        if not passed:
            assert finding.messages == (f"A {severity} incident needs at least one P0 or P1 action item",)


class TestL09SpecificActions:
    @pytest.mark.parametrize(
        ("title", "word"),
        [
            ("Improve monitoring", "Improve"),
            ("Look into the Enactor", "Look into"),
            ("Make DNS better", "Make DNS better"),
        ],
    )
    def test_vague_titles(self, good, title, word):
        good.action_items[1].title = title
        finding = good.finding("L09")
        assert finding.messages == (
            f"Action item '{title}' starts with the vague '{word}'; say what will change and how you will know",
        )
        assert not finding.required

    @pytest.mark.parametrize(
        ("title", "word"), [("Train operators on DNS pushes", "Train"), ("Remind the team to be careful", "Remind")]
    )
    def test_fixes_aimed_at_people(self, good, title, word):
        good.action_items[1].title = title
        assert good.finding("L09").messages == (
            f"Action item '{title}' aims at people ('{word}'); change a system or control",
        )

    def test_a_specific_title_mentioning_improvement_passes(self, good):
        good.action_items[1].title = "Add an empty-record alarm to improve detection"
        assert good.finding("L09").passed


class TestL10Priorities:
    def test_all_items_with_one_priority(self, good):
        for item in good.action_items:
            item.priority = Priority.P1
        finding = good.finding("L10")
        assert finding.messages == ("All 3 action items are P1; rank them so the most important comes first",)
        assert finding.sections == ("action_items",)

    def test_a_single_item_is_fine(self, good):
        good.action_items = good.action_items[:1]
        assert good.finding("L10").passed


class TestL11Owner:
    def test_no_owner(self, good):
        good.coe.owner_id = None
        finding = good.finding("L11")
        assert finding.messages == ("The COE has no owner",)
        assert finding.required

    def test_owner_may_be_passed_explicitly(self, good):
        good.coe.owner_id = None
        assert good.finding("L11", owner_id=AUTHOR).passed


class TestL12DraftedPromptly:
    def test_an_unsaved_coe_is_measured_against_today(self, good):
        # Resolved on 2025-10-20.
        finding = good.finding("L12", today=date(2025, 10, 30))
        assert finding.messages == ("The COE was drafted 10 days after resolution; the target is 7",)
        assert good.finding("L12", today=date(2025, 10, 30), draft_target_days=14).passed

    def test_a_saved_coe_is_measured_from_its_creation(self, good):
        good.coe.created_at = datetime(2025, 10, 22, 9, 0, tzinfo=UTC)
        finding = good.finding("L12", today=date(2026, 3, 1))
        assert finding.passed
        assert finding.info == ("The COE was drafted 2 days after resolution; the target is 7",)

    def test_the_target_defaults_to_the_setting(self, good, settings):
        settings.COE_DRAFT_TARGET_DAYS = 1
        report = check_coe(
            good.coe,
            incident=good.incident,
            action_items=[],
            timeline=[],
            ai_involvements=[],
            today=TODAY,
        )
        assert report.get("L12").messages == ("The COE was drafted 2 days after resolution; the target is 1",)

    def test_an_unresolved_incident_passes(self, good):
        good.incident.resolved_at = None
        assert good.finding("L12", today=date(2026, 3, 1)).passed


class TestL13DataBacked:
    def test_empty_metrics(self, good):
        good.coe.metrics = ""
        finding = good.finding("L13")
        assert finding.messages == (
            "Section 'Metrics and data' is empty: link the graphs or logs that show the root cause",
        )
        assert finding.sections == ("metrics",)

    def test_metrics_without_a_link_or_number(self, good):
        good.coe.metrics = "The error graph went up."
        assert good.finding("L13").messages == (
            "Section 'Metrics and data' has no link or number: link the dashboard, graph or log query",
        )

    def test_a_number_is_enough(self, good):
        good.coe.metrics = "5xx rate peaked at 18%."
        assert good.finding("L13").passed


class TestL14Questions:
    def test_names_each_unanswered_question(self, good):
        good.coe.q_diagnosis = ""
        good.coe.q_prevention = " "
        finding = good.finding("L14")
        assert finding.messages == (
            "Section 'Question: diagnosis' is empty",
            "Section 'Question: prevention' is empty",
        )
        assert finding.sections == ("q_diagnosis", "q_prevention")


class TestL15Review:
    def test_a_draft_is_not_yet_approved(self, good):
        good.coe.approver_id = None
        finding = good.finding("L15")
        assert finding.messages == ("Not yet approved by a second person",)
        assert not finding.required

    def test_the_approver_must_not_be_an_author(self, good):
        assert good.finding("L15", author_ids=[OWNER, APPROVER]).messages == (
            "The approver is also an author; someone else must approve",
        )

    def test_a_sev1_also_needs_the_ops_meeting(self, good):
        good.incident.severity = Severity.SEV1
        assert good.finding("L15").messages == ("A SEV1 COE must also be reviewed in an operational meeting",)
        assert good.finding("L15", reviewed_in_ops_meeting=True).passed
        good.coe.reviewed_in_ops_meeting = True
        assert good.finding("L15").passed


class TestL16Related:
    def test_needs_a_link_or_incident_key(self, good):
        good.coe.related_items = "The DNS ticket and last year's incident."
        finding = good.finding("L16")
        assert finding.messages == (
            "Section 'Related items' has no link or incident key (INC-2025-0001): "
            "link the tickets and any prior similar incidents",
        )
        assert finding.sections == ("related_items",)

    @pytest.mark.parametrize("text", ["See INC-2024-0007.", "https://tickets.example.com/DNS-42"])
    def test_a_key_or_url_passes(self, good, text):
        good.coe.related_items = text
        assert good.finding("L16").passed


class TestL17Acronyms:
    def test_an_unexplained_acronym(self, good):
        good.coe.root_cause = "DWFM entered congestive collapse."
        finding = good.finding("L17")
        assert finding.messages == ("'DWFM' (used in Root cause) is not explained in 'Background and glossary'",)
        assert finding.sections == ("background", "root_cause")

    def test_an_empty_background_explains_nothing(self, good):
        good.coe.root_cause = "The NLB health checks flapped."
        assert good.finding("L17").passed  # the background spells out NLB
        good.coe.background = ""
        assert good.finding("L17").messages == (
            "'NLB' (used in Root cause) is not explained in 'Background and glossary'",
        )

    def test_explained_acronyms_and_plurals(self, good):
        good.coe.background += " DropletWorkflow Manager (DWFM) leases droplets."
        good.coe.root_cause = "DWFM collapsed and NLBs flapped."
        assert good.finding("L17").passed

    def test_common_acronyms_urls_and_incident_keys_are_ignored(self, good):
        good.coe.summary = "The AWS API returned HTTP 500 for DNS lookups at 06:48 UTC; see INC-2024-0007."
        good.coe.related_items = "https://tickets.example.com/ORDERS/DNS-42"
        assert good.finding("L17").passed

    def test_whys_are_scanned(self, good):
        good.coe.whys = [{"cause": "Plan", "links": ["a", "b", "The QPS limit in the PLNR was too low"]}]
        finding = good.finding("L17")
        assert finding.messages == (
            "'QPS' (used in Whys chain 1 ('Plan')) is not explained in 'Background and glossary'",
            "'PLNR' (used in Whys chain 1 ('Plan')) is not explained in 'Background and glossary'",
        )
        assert finding.sections == ("background", "whys")


class TestL18AIBlock:
    def test_names_each_agent_and_what_is_missing(self, good):
        good.ai_involvements.append(
            AIInvolvementFactory.build(incident=good.incident, agent_name="Kiro", autonomy_level="")
        )
        finding = good.finding("L18")
        assert finding.messages == (
            "AI involvement 'Kiro' is missing autonomy level, whether an approval gate was present, "
            "permissions held and action class",
        )
        assert finding.sections == ("ai",)
        assert finding.required
        assert not good.check().can_submit

    def test_no_ai_involvement_passes(self, good):
        good.ai_involvements = []
        assert good.finding("L18").passed

    def test_gate_answered_no_is_an_answer(self, good):
        good.ai_involvements[0].gate_present = TriState.NO
        assert good.finding("L18").passed


def test_every_section_key_in_findings_is_known(good):
    """The editor places findings by key: they must be sections or the named blocks."""
    for key in [s.key for s in SECTIONS]:
        setattr(good.coe, key, "")
    good.coe.whys = []
    good.action_items, good.timeline = [], []
    known = {s.key for s in SECTIONS} | {"whys", "action_items", "timeline", "ai"}
    good.ai_involvements.append(AIInvolvementFactory.build(incident=good.incident, agent_name="X"))
    for finding in good.check().findings:
        assert set(finding.sections) <= known, finding.rule


def test_messages_for_shows_only_what_names_the_section():
    from incidents.quality import Finding, QualityReport

    l01 = Finding(
        "L01",
        "Required",
        False,
        True,
        ("Section 'Trigger' is empty", "Section 'Detection' is empty"),
        ("trigger", "detection"),
        "src",
    )
    l13 = Finding("L13", "Data", False, False, ("Link the graphs",), ("metrics",), "src")
    report = QualityReport((l01, l13))
    assert report.messages_for("trigger") == [("L01", "Section 'Trigger' is empty")]
    assert report.messages_for("detection") == [("L01", "Section 'Detection' is empty")]
    # A finding about one section alone shows all its messages there.
    assert report.messages_for("metrics") == [("L13", "Link the graphs")]
    assert report.messages_for("summary") == []
