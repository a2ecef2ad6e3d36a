"""Model rules: derived durations, the cause vocabulary, visibility, the two-person rule."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents.models import Incident
from incidents.models.coe import WorkflowError
from incidents.models.vocab import (
    AUTONOMY_TO_CSET,
    AutonomyLevel,
    CoeStatus,
    CsetAutonomy,
    PrimaryCause,
    TriState,
)

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    CoeDocumentFactory,
    IncidentFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


class TestDurations:
    def test_durations_are_measured_from_the_start(self):
        incident = IncidentFactory()
        assert incident.time_to_detect == timedelta(minutes=20)
        assert incident.time_to_mitigate == timedelta(hours=2)
        assert incident.time_to_resolve == timedelta(hours=5)

    def test_unknown_end_gives_no_duration_rather_than_a_guess(self):
        incident = IncidentFactory(detected_at=None, resolved_at=None, reported_duration=timedelta(hours=13))
        assert incident.time_to_detect is None
        assert incident.time_to_resolve is None
        # The reported figure is used only when the ends are unknown.
        assert incident.duration == timedelta(hours=13)

    def test_times_out_of_order_are_refused(self):
        incident = IncidentFactory.build(detected_at=None)
        incident.resolved_at = incident.started_at - timedelta(minutes=1)
        with pytest.raises(ValidationError) as err:
            incident.full_clean()
        assert "resolved_at" in err.value.message_dict


class TestCauseVocabulary:
    def test_there_is_no_human_error_cause(self):
        assert "human_error" not in PrimaryCause.values
        assert not any("human" in label.lower() for label in PrimaryCause.labels)

    def test_form_validation_rejects_human_error(self):
        incident = IncidentFactory.build(primary_cause="human_error")
        with pytest.raises(ValidationError) as err:
            incident.full_clean()
        assert "primary_cause" in err.value.message_dict

    def test_database_rejects_human_error_even_on_a_raw_update(self):
        incident = IncidentFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            Incident.objects.filter(pk=incident.pk).update(primary_cause="human_error")

    def test_adopted_cause_needs_a_rationale(self):
        incident = IncidentFactory.build(adopted_cause=PrimaryCause.ACCESS_CONTROL, adopted_cause_rationale=" ")
        with pytest.raises(ValidationError) as err:
            incident.full_clean()
        assert "adopted_cause_rationale" in err.value.message_dict


class TestKeys:
    def test_keys_count_up_per_year_of_the_start(self):
        first = IncidentFactory()
        second = IncidentFactory()
        other_year = IncidentFactory(started_at=first.started_at.replace(year=2026))
        assert first.key == "INC-2025-0001"
        assert second.key == "INC-2025-0002"
        assert other_year.key == "INC-2026-0001"

    def test_a_saved_key_never_changes(self):
        incident = IncidentFactory()
        incident.title = "Renamed"
        incident.save()
        incident.refresh_from_db()
        assert incident.key == "INC-2025-0001"


class TestVisibility:
    def test_outsider_cannot_see_a_restricted_incident(self, restricted_incident, outsider):
        public = IncidentFactory()
        assert list(Incident.objects.visible_to(outsider)) == [public]
        assert not restricted_incident.is_visible_to(outsider)

    def test_group_members_owner_and_superusers_can(self, restricted_incident, reviewer):
        owner = UserFactory(username="owner")
        restricted_incident.owner = owner
        restricted_incident.save()
        superuser = UserFactory(username="root", is_superuser=True)
        for user in (reviewer, owner, superuser):
            assert restricted_incident.is_visible_to(user), user

    def test_anonymous_sees_nothing(self, restricted_incident):
        from django.contrib.auth.models import AnonymousUser

        IncidentFactory()
        assert Incident.objects.visible_to(AnonymousUser()).count() == 0

    def test_restricted_needs_a_group(self):
        incident = IncidentFactory.build(restricted=True)
        with pytest.raises(ValidationError) as err:
            incident.full_clean()
        assert "access_group" in err.value.message_dict
        with pytest.raises(IntegrityError), transaction.atomic():
            incident.save()

    def test_no_duplicates_for_users_in_several_groups(self, restricted_incident, reviewer, restricted_group):
        from .factories import GroupFactory

        second = GroupFactory(name="another")
        reviewer.groups.add(second)
        restricted_incident.access_group = second
        restricted_incident.save()
        assert Incident.objects.visible_to(reviewer).filter(pk=restricted_incident.pk).count() == 1


class TestTwoPersonRule:
    def _in_review(self, author):
        coe = CoeDocumentFactory(status=CoeStatus.IN_REVIEW)
        coe.authors.add(author)
        return coe

    def test_author_cannot_approve(self, approver):
        coe = self._in_review(approver)
        with pytest.raises(WorkflowError, match="two-person"):
            coe.approve(by=approver)
        assert coe.status == CoeStatus.IN_REVIEW

    def test_another_approver_can(self, reviewer, approver):
        coe = self._in_review(reviewer)
        coe.approve(by=approver)
        assert coe.status == CoeStatus.APPROVED
        assert coe.approver == approver

    def test_reviewer_without_the_permission_cannot(self, reviewer, outsider):
        coe = self._in_review(outsider)
        with pytest.raises(WorkflowError, match="Only approvers"):
            coe.approve(by=reviewer)

    def test_clean_refuses_an_approver_who_is_an_author(self, approver):
        coe = self._in_review(approver)
        coe.approver = approver
        with pytest.raises(ValidationError) as err:
            coe.full_clean()
        assert "approver" in err.value.message_dict

    def test_publish_needs_approval_first(self, reviewer, approver):
        coe = self._in_review(reviewer)
        with pytest.raises(WorkflowError):
            coe.publish(by=approver)
        coe.approve(by=approver)
        coe.publish(by=approver)
        assert coe.status == CoeStatus.PUBLISHED
        assert coe.published_at is not None


class TestAI:
    def test_every_level_maps_to_cset_and_l5_is_most_autonomous(self):
        assert set(AUTONOMY_TO_CSET) == set(AutonomyLevel)
        assert AutonomyLevel.L1.cset == CsetAutonomy.AUTONOMY3
        assert AutonomyLevel.L5.cset == CsetAutonomy.AUTONOMY1

    def test_gate_failed_when_absent_or_bypassed(self):
        assert AIInvolvementFactory(gate_present=TriState.NO).gate_failed
        assert AIInvolvementFactory(gate_present=TriState.YES, gate_bypassed=TriState.YES).gate_failed
        assert not AIInvolvementFactory(gate_present=TriState.YES, gate_bypassed=TriState.NO).gate_failed
        assert not AIInvolvementFactory().gate_failed  # unknown is not a failure

    def test_ai_involved_filter(self):
        with_ai = AIInvolvementFactory().incident
        without = IncidentFactory()
        assert list(Incident.objects.ai_involved()) == [with_ai]
        assert list(Incident.objects.ai_involved(False)) == [without]


class TestActionItems:
    def test_open_items_stay_open_after_the_incident_closes(self):
        item = ActionItemFactory(incident__status="closed")
        from incidents.models import ActionItem

        assert list(ActionItem.objects.open()) == [item]

    def test_overdue(self):
        from datetime import date

        from incidents.models import ActionItem

        late = ActionItemFactory(due_date=date(2026, 1, 1))
        ActionItemFactory(due_date=date(2026, 3, 1))
        done = ActionItemFactory(due_date=date(2026, 1, 1))
        done.close()
        done.save()
        assert list(ActionItem.objects.overdue(today=date(2026, 2, 1))) == [late]
        assert late.days_overdue(today=date(2026, 2, 1)) == 31
        assert done.days_overdue(today=date(2026, 2, 1)) == 0

    def test_close_refuses_an_open_status(self):
        item = ActionItemFactory()
        with pytest.raises(ValueError, match="not a closing status"):
            item.close("in_progress")


class TestTimeline:
    def test_unknown_time_zone_is_refused(self):
        event = TimelineEventFactory.build(incident=IncidentFactory(), display_tz="Mars/Olympus")
        with pytest.raises(ValidationError) as err:
            event.full_clean()
        assert "display_tz" in err.value.message_dict

    def test_local_time_uses_the_sources_zone(self):
        event = TimelineEventFactory(display_tz="America/Los_Angeles")
        assert event.local_time.utcoffset() == timedelta(hours=-7)


def test_keys_keep_counting_past_9999():
    from incidents.models import IncidentKeyCounter

    IncidentFactory()
    IncidentKeyCounter.objects.filter(year=2025).update(last=9999)
    IncidentFactory()  # INC-2025-10000
    assert IncidentFactory().key == "INC-2025-10001"
