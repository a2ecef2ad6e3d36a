"""The Correction-of-Error document, its revisions and its review comments."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone

from .bounds import in_near_future, stored_range
from .fulltext import coe_vector, search_index, stored_vector
from .vocab import CoeStatus


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    guidance: str
    group: str


# The COE template: the union of the AWS Well-Architected COE, the SRE
# postmortem (Appendix D) and Incident Manager's questions (DOMAIN.md 1).
# Order here is the order of the editor, the export and the quality check.
SECTIONS: tuple[Section, ...] = (
    Section("summary", "Summary", "What happened? Two or three sentences a stranger can follow.", "Overview"),
    Section(
        "impact",
        "Impact",
        "What was the impact on customers and the business? Give numbers (users, orders, revenue, %) "
        "and the start and end with a time zone; an estimate is fine if it says so.",
        "Overview",
    ),
    Section(
        "background",
        "Background and glossary",
        "What does a reader from another team need to know first? Spell out every acronym.",
        "Overview",
    ),
    Section(
        "timeline_narrative",
        "Timeline",
        "Tell the sequence of events: start, detection, engagement, mitigation start and resolution, with time zone.",
        "What happened",
    ),
    Section(
        "metrics",
        "Metrics and data",
        "What data supports this, especially metrics, graphs and logs? Link them.",
        "What happened",
    ),
    Section("trigger", "Trigger", "What set it off? Keep the trigger apart from the root cause.", "Why"),
    Section(
        "root_cause",
        "Root cause",
        "What was the root cause? Name the system or control that failed, not a person. "
        "Back it with the metrics or logs above.",
        "Why",
    ),
    Section("resolution", "Resolution", "How was it mitigated and then resolved?", "Response"),
    Section("detection", "Detection", "How was it detected, and how long did that take?", "Response"),
    Section(
        "q_detection",
        "Question: detection",
        "What new metrics or alarms would catch this sooner?",
        "Questions",
    ),
    Section(
        "q_diagnosis",
        "Question: diagnosis",
        "Which response or escalation plan changes would bring in the right responders sooner?",
        "Questions",
    ),
    Section(
        "q_mitigation",
        "Question: mitigation",
        "Which runbook steps could be added or improved?",
        "Questions",
    ),
    Section(
        "q_prevention",
        "Question: prevention",
        "What would stop this class of incident from happening again? (The whys below go deeper.)",
        "Questions",
    ),
    Section(
        "pillar_implications",
        "Pillar implications",
        "What are the implications for security, reliability, cost and the other pillars?",
        "Questions",
    ),
    Section("lessons_went_well", "Lessons: what went well", "What worked and should be kept?", "Lessons"),
    Section(
        "lessons_went_wrong", "Lessons: what went wrong", "What hurt? Systems and controls, not people.", "Lessons"
    ),
    Section(
        "lessons_lucky",
        "Lessons: where we got lucky",
        "What near misses would have made it worse?",
        "Lessons",
    ),
    Section(
        "related_items",
        "Related items",
        "Tickets, prior similar incidents and documents this COE relates to.",
        "Related",
    ),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
SECTIONS_BY_KEY = {s.key: s for s in SECTIONS}


# The longest a section may be, wherever it is written (the editor's form, the API, the admin).
SECTION_MAX_LENGTH = 50_000


def section_too_long_message(section: Section) -> str:
    return f"{section.title}: at most {SECTION_MAX_LENGTH:,} characters (this has %(show_value)s)."


def _section_fields() -> dict[str, models.TextField]:
    return {
        s.key: models.TextField(
            blank=True,
            default="",
            help_text=s.guidance,
            max_length=SECTION_MAX_LENGTH,
            validators=[MaxLengthValidator(SECTION_MAX_LENGTH, message=section_too_long_message(s))],
        )
        for s in SECTIONS
    }


class WorkflowError(Exception):
    """A COE workflow step that the rules do not allow, with the reason."""


class CoeDocumentQuerySet(models.QuerySet):
    def visible_to(self, user) -> CoeDocumentQuerySet:
        from .incident import Incident

        return self.filter(incident__in=Incident.objects.visible_to(user))


class CoeDocumentBase(models.Model):
    class Meta:
        abstract = True


# Section fields are generated from SECTIONS so the template, the model and
# the quality check cannot drift apart.
for _key, _field in _section_fields().items():
    CoeDocumentBase.add_to_class(_key, _field)


class CoeDocument(CoeDocumentBase):
    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="coe")
    whys = models.JSONField(
        default=list,
        blank=True,
        help_text='Five-whys chains, one per cause: [{"cause": "...", "links": ["why 1", "why 2", ...]}].',
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_coes"
    )
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="authored_coes", blank=True)
    status = models.CharField(max_length=20, choices=CoeStatus.choices, default=CoeStatus.DRAFT)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="approved_coes"
    )
    reviewed_in_ops_meeting = models.BooleanField(default=False)
    ops_review_on = models.DateField(
        null=True, blank=True, validators=[in_near_future], help_text="When the operational meeting reviewed it."
    )
    ops_review_meeting = models.CharField(
        max_length=200, blank=True, help_text="Which meeting, e.g. 'Weekly ops review'."
    )
    # Bumped on every save; an edit based on an older version is a conflict.
    version = models.PositiveIntegerField(default=1)
    # A default rather than auto_now_add: an imported COE keeps the date it was drafted.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    approved_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    published_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    search_vector = stored_vector(coe_vector())

    objects = CoeDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = "COE document"
        permissions = [
            ("approve_coedocument", "Can approve and publish COE documents"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=CoeStatus.values), name="coedocument_status_valid"),
            *(
                stored_range("coedocument", column)
                for column in ("created_at", "updated_at", "submitted_at", "approved_at", "published_at")
            ),
            stored_range("coedocument", "ops_review_on", date_only=True),
        ]
        indexes = [
            # The dashboard's COE timeliness reads each incident's approval from the index alone.
            models.Index(fields=["incident"], include=["approved_at"], name="coedocument_approval_cov"),
            # The COEs in review (a few percent), counted for the navigation on every page: read from this
            # index alone (incidents/views/reviews.py), not a scan of every COE's prose.
            models.Index(
                fields=["incident", "id"],
                condition=models.Q(status=CoeStatus.IN_REVIEW),
                name="coedocument_in_review_idx",
            ),
            search_index("coedocument_search_gin"),
        ]

    def __str__(self) -> str:
        return f"COE for {self.incident.key}"

    def section_items(self):
        return [(s, getattr(self, s.key)) for s in SECTIONS]

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.whys, list):
            errors["whys"] = "Whys must be a list of chains."
        else:
            for number, chain in enumerate(self.whys, start=1):
                if (
                    not isinstance(chain, dict)
                    or not isinstance(chain.get("cause", ""), str)
                    or not isinstance(chain.get("links"), list)
                    or not all(isinstance(link, str) for link in chain["links"])
                ):
                    errors["whys"] = f"Chain {number} must have a cause and a list of links."
                    break
        if self.pk and self.approver_id and self.authors.filter(pk=self.approver_id).exists():
            errors["approver"] = "The approver must not be one of the authors (two-person rule)."
        if errors:
            raise ValidationError(errors)

    # Workflow. Each step checks its own rule and says why it refuses.
    def is_author(self, user) -> bool:
        return self.authors.filter(pk=user.pk).exists()

    def can_approve(self, user) -> tuple[bool, str]:
        if not user.has_perm("incidents.approve_coedocument"):
            return False, "Only approvers can approve a COE."
        if self.is_author(user):
            return False, "An author cannot approve their own COE (two-person rule)."
        return True, ""

    def approve(self, *, by) -> None:
        if self.status != CoeStatus.IN_REVIEW:
            raise WorkflowError("Only a COE in review can be approved.")
        allowed, reason = self.can_approve(by)
        if not allowed:
            raise WorkflowError(reason)
        self.status = CoeStatus.APPROVED
        self.approver = by
        self.approved_at = timezone.now()

    def publish(self, *, by) -> None:
        if self.status != CoeStatus.APPROVED:
            raise WorkflowError("Only an approved COE can be published.")
        allowed, reason = self.can_approve(by)
        if not allowed:
            raise WorkflowError(reason)
        self.status = CoeStatus.PUBLISHED
        self.published_at = timezone.now()


class CoeRevision(models.Model):
    """A snapshot of the COE taken on every save: the history page reads these."""

    coe = models.ForeignKey(CoeDocument, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=CoeStatus.choices)
    saved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    saved_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)
    data = models.JSONField()

    class Meta:
        ordering = ["coe", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["coe", "number"], name="coerevision_unique_number"),
            stored_range("coerevision", "saved_at"),
        ]

    def __str__(self) -> str:
        return f"{self.coe} r{self.number}"


class ReviewComment(models.Model):
    coe = models.ForeignKey(CoeDocument, on_delete=models.CASCADE, related_name="comments")
    section = models.CharField(max_length=40, choices=[(s.key, s.title) for s in SECTIONS] + [("whys", "Whys")])
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True, validators=[in_near_future])
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["coe", "created_at", "id"]
        constraints = [stored_range("reviewcomment", column) for column in ("created_at", "resolved_at")]

    def __str__(self) -> str:
        return f"{self.author} on {self.section}: {self.body[:40]}"
