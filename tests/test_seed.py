"""`manage.py seed_demo`: idempotent, every fact with its source, disputes kept, demo users guarded."""

import re
from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents.models import (
    SECTIONS,
    ActionItem,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    TimelineEvent,
)
from incidents.models.vocab import (
    ActionStatus,
    AttributionStatus,
    Basis,
    ClaimedAIRole,
    CoeStatus,
    PrimaryCause,
    Stance,
    TimePrecision,
)
from incidents.roles import APPROVERS, LEADERSHIP, REVIEWERS
from incidents.seed import kiro_2025, retail_2026_03, us_east_1_2025

pytestmark = pytest.mark.django_db

BLAME = re.compile(r"human error|operator error|careless|should have|failed to", re.IGNORECASE)


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # Six users are hashed per seed; PBKDF2 would make each test take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--allow-demo-users", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded():
    seed()


def snapshot() -> dict[str, list[dict]]:
    """Every row of every incidents model (incl. m2m tables) and of the auth tables, field by field."""
    models = list(apps.get_app_config("incidents").get_models(include_auto_created=True))
    models += list(apps.get_app_config("auth").get_models(include_auto_created=True))
    return {m._meta.label: list(m.objects.order_by("pk").values()) for m in models}


class TestIdempotence:
    def test_second_run_changes_no_row_and_no_value(self):
        seed()
        before = snapshot()
        output = seed()
        after = snapshot()

        assert {label: len(rows) for label, rows in after.items()} == {
            label: len(rows) for label, rows in before.items()
        }
        # Field by field, so an auto_now bump or a re-hashed password shows up too.
        assert after == before
        assert "Nothing changed" in output

    def test_the_seed_is_not_empty(self, seeded):
        assert Incident.objects.count() == 5
        assert Incident.objects.filter(external_id__startswith="seed:").count() == 5
        assert get_user_model().objects.count() >= 4

    def test_the_seed_writes_no_change_history(self, seeded):
        # The knowledge base's starting state, not a change anyone made to it.
        from auditlog.models import LogEntry

        assert not LogEntry.objects.exists()

    def test_keys_follow_the_calendar_on_a_fresh_database(self, seeded):
        keys = list(Incident.objects.order_by("started_at").values_list("key", flat=True))
        assert keys == ["INC-2025-0001", "INC-2025-0002", "INC-2025-0003", "INC-2026-0001", "INC-2026-0002"]


class TestSources:
    def test_every_figure_event_and_claim_cites_a_source(self, seeded):
        assert not ImpactFigure.objects.filter(source__isnull=True).exists()
        assert not TimelineEvent.objects.filter(source__isnull=True).exists()
        assert not Claim.objects.filter(source__isnull=True).exists()

    def test_reported_corrective_actions_cite_a_source(self, seeded):
        reported = ActionItem.objects.filter(basis=Basis.REPORTED)
        assert reported.filter(description__startswith="Reported").exists()
        assert not reported.filter(source__isnull=True).exists()

    def test_no_article_paths_are_invented_for_sites_named_only(self, seeded):
        from incidents.models import Source

        for source in Source.objects.exclude(url="https://aws.amazon.com/message/101925/"):
            path = source.url.split("://", 1)[1].split("/", 1)[1]
            assert path in ("", "news"), source.url
            assert "not recorded" in source.note, source.url

    def test_securie_is_not_a_source(self, seeded):
        from incidents.models import Source

        assert not Source.objects.filter(url__icontains="securie").exists()


class TestDisputes:
    def test_kiro_is_disputed_with_claims_on_both_sides(self, seeded):
        kiro = Incident.objects.get(external_id=kiro_2025.EXTERNAL_ID)
        assert kiro.attribution_status == AttributionStatus.DISPUTED
        claims = list(kiro.claims.select_related("source"))
        asserting = [c for c in claims if c.stance == Stance.ASSERTS and c.claimed_ai_role == ClaimedAIRole.EXECUTOR]
        denying = [c for c in claims if c.stance == Stance.DENIES and c.claimed_ai_role == ClaimedAIRole.NONE]
        assert asserting
        assert denying
        assert all(c.source_id for c in claims)
        assert {c.source.publisher for c in asserting} != {c.source.publisher for c in denying}

    def test_amazons_user_error_maps_to_access_control_and_keeps_its_words(self, seeded):
        kiro = Incident.objects.get(external_id=kiro_2025.EXTERNAL_ID)
        claim = kiro.claims.get(claimant="Amazon", quote__contains="misconfigured access controls")
        assert claim.claimed_cause == PrimaryCause.ACCESS_CONTROL
        assert claim.quote == "user error—specifically misconfigured access controls—not AI"
        assert kiro.adopted_cause == PrimaryCause.ACCESS_CONTROL
        assert "FT" in kiro.adopted_cause_rationale
        assert "Amazon" in kiro.adopted_cause_rationale

    def test_march_retail_attribution_is_contested_and_rationale_names_both_sides(self, seeded):
        for external_id in (retail_2026_03.MARCH_2_EXTERNAL_ID, retail_2026_03.MARCH_5_EXTERNAL_ID):
            incident = Incident.objects.get(external_id=external_id)
            assert incident.attribution_status in (AttributionStatus.DISPUTED, AttributionStatus.VENDOR_CORRECTED)
            assert incident.claims.filter(claimant="Amazon", source__published_on=date(2026, 3, 11)).exists()
            assert "Amazon" in incident.adopted_cause_rationale
            assert "FT" in incident.adopted_cause_rationale or "CNBC" in incident.adopted_cause_rationale

    def test_senior_sign_off_is_disputed_as_action_and_as_control(self, seeded):
        action = ActionItem.objects.get(title__startswith="Senior sign-off")
        assert action.disputed
        assert action.source is not None
        assert "false" in action.description
        control = Control.objects.get(name__startswith="Senior sign-off")
        assert control.disputed
        assert "new approval requirements for engineers working with AI tools" in control.dispute_note

    def test_authorization_by_default_is_not_seeded_as_a_fix(self, seeded):
        assert not ActionItem.objects.filter(title__icontains="authorization by default").exists()
        assert not Control.objects.filter(name__icontains="authorization by default").exists()

    def test_no_ai_involvement_on_us_east_1(self, seeded):
        incident = Incident.objects.get(external_id=us_east_1_2025.EXTERNAL_ID)
        assert not incident.ai_involvements.exists()


class TestTimes:
    def test_us_east_1_conflicting_times_are_kept_side_by_side(self, seeded):
        incident = Incident.objects.get(external_id=us_east_1_2025.EXTERNAL_ID)
        events = list(incident.timeline.filter(moment="cause-identified").order_by("occurred_at"))
        assert len(events) == 2
        assert events[0].source_id != events[1].source_id
        assert [e.local_time.strftime("%H:%M") for e in events] == ["00:26", "00:38"]
        assert {e.display_tz for e in events} == {"America/Los_Angeles"}

    def test_pdt_is_converted_to_the_right_instant(self, seeded):
        incident = Incident.objects.get(external_id=us_east_1_2025.EXTERNAL_ID)
        # 11:48 PM PDT (UTC-7) on 19 October is 06:48 UTC on 20 October.
        assert incident.started_at == datetime(2025, 10, 20, 6, 48, tzinfo=ZoneInfo("UTC"))
        assert incident.resolved_at == datetime(2025, 10, 20, 21, 20, tzinfo=ZoneInfo("UTC"))

    def test_mid_december_is_not_given_invented_minutes(self, seeded):
        kiro = Incident.objects.get(external_id=kiro_2025.EXTERNAL_ID)
        assert kiro.time_precision == TimePrecision.MONTH
        assert kiro.resolved_at is None
        assert kiro.reported_duration == timedelta(hours=13)
        assert kiro.reported_duration_source is not None
        assert kiro.duration == timedelta(hours=13)

    def test_us_east_1_figures_keep_each_source(self, seeded):
        incident = Incident.objects.get(external_id=us_east_1_2025.EXTERNAL_ID)
        figures = incident.impact_figures.select_related("source")
        assert {(f.name, f.source.publisher) for f in figures} == {
            ("Downdetector reports", "BBC"),
            ("Apps and sites affected", "BBC"),
            ("Reported outage duration", "Bloomberg (via NDTV Profit)"),
        }


class TestActions:
    def test_due_dates_give_overdue_and_future_items_and_a_mix_of_statuses(self, seeded):
        overdue = ActionItem.objects.overdue(today=date(2026, 11, 1))
        assert overdue.exists()
        assert ActionItem.objects.open().filter(due_date__year=2027).exists()
        statuses = set(ActionItem.objects.values_list("status", flat=True))
        assert {ActionStatus.OPEN, ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.VERIFIED} <= statuses
        assert not ActionItem.objects.filter(owner__isnull=True).exists()

    def test_required_controls_exist_with_sources_and_incidents(self, seeded):
        for name in (
            "Mandatory peer review for production access",
            "90-day code safety reset for Tier-1 systems",
            "Senior sign-off for AI-assisted changes by junior and mid-level engineers",
            "DynamoDB DNS Planner and DNS Enactor automation disabled worldwide",
            "Replit development/production database separation",
        ):
            control = Control.objects.get(name=name)
            assert control.scope
            assert control.owner_name
            assert control.sources.exists()
            assert control.incidents.exists()


class TestCoes:
    def test_published_kiro_coe(self, seeded):
        coe = CoeDocument.objects.get(incident__external_id=kiro_2025.EXTERNAL_ID)
        assert coe.status == CoeStatus.PUBLISHED
        assert coe.approver is not None
        assert not coe.authors.filter(pk=coe.approver.pk).exists()
        assert coe.submitted_at < coe.approved_at < coe.published_at
        assert coe.created_at < coe.submitted_at
        for section in SECTIONS:
            text = getattr(coe, section.key)
            assert text.strip(), section.key
            assert not BLAME.search(text), section.key
        assert coe.whys
        for chain in coe.whys:
            assert len(chain["links"]) >= 3
            assert not BLAME.search(" ".join(chain["links"]))
        revision = coe.revisions.get()
        assert revision.number == 1
        assert revision.data["summary"] == coe.summary
        assert revision.data["whys"] == coe.whys

    def test_march_5_coe_is_a_partial_draft(self, seeded):
        coe = CoeDocument.objects.get(incident__external_id=retail_2026_03.MARCH_5_EXTERNAL_ID)
        assert coe.status == CoeStatus.DRAFT
        filled = [s.key for s in SECTIONS if getattr(coe, s.key).strip()]
        assert 0 < len(filled) < len(SECTIONS)
        assert coe.revisions.get().number == 1


class TestDemoUsers:
    def test_refused_when_debug_is_off(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="--allow-demo-users"):
            call_command("seed_demo", stdout=StringIO())
        assert not get_user_model().objects.filter(username="admin").exists()
        assert not Incident.objects.exists()

    def test_allowed_with_the_flag_when_debug_is_off(self, settings):
        settings.DEBUG = False
        seed()
        assert get_user_model().objects.filter(username="admin", is_superuser=True, is_staff=True).exists()

    def test_no_flag_needed_when_debug_is_on(self, settings):
        settings.DEBUG = True
        call_command("seed_demo", stdout=StringIO())
        assert get_user_model().objects.filter(username="reviewer").exists()

    @pytest.mark.parametrize(
        ("username", "group"),
        [("reviewer", REVIEWERS), ("approver", APPROVERS), ("leader", LEADERSHIP), ("admin", None)],
    )
    def test_demo_users_log_in_with_password_demo(self, seeded, client, username, group):
        assert client.login(username=username, password="demo")
        user = get_user_model().objects.get(username=username)
        if group:
            assert user.groups.filter(name=group).exists()
        else:
            assert user.is_superuser

    def test_output_lists_the_logins(self):
        output = seed()
        assert "password for all: demo" in output
        for username in ("reviewer", "approver", "leader", "admin"):
            assert username in output
