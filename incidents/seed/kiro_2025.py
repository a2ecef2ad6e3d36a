"""December 2025: the AWS Cost Explorer interruption involving Kiro (DOMAIN.md 3.1).

The sources give only "mid-December" and "about 13 hours": the start is
December 2025 at month precision, no end is stored, and the reported duration
keeps its source. Also holds the published COE, written only from these facts:
each statement cited, or marked as ours where it is our reading or proposal;
where the sources are silent the COE says so.
"""

from datetime import timedelta

from incidents.models.vocab import (
    ActionClass,
    ActionStatus,
    ActionType,
    ActorKind,
    AIRole,
    AttributionStatus,
    AutonomyLevel,
    Basis,
    ClaimedAIRole,
    CoeStatus,
    ContributingFactor,
    GateType,
    HarmLevel,
    IncidentStatus,
    PermissionScope,
    PrimaryCause,
    Priority,
    Severity,
    Stance,
    TimelineKind,
    TimePrecision,
    TriggerKind,
    TriState,
)

from .common import LINE, cited, date, dated, ours, ticket, utc

EXTERNAL_ID = "seed:aws-cost-explorer-kiro-2025-12"

# "Mid-December 2025": no source gives the day, so the month is what is stored.
MID_DECEMBER = dated(2025, 12, 1, TimePrecision.MONTH)

FT = "ft_kiro"
AMAZON = "amazon_kiro_correction"

INCIDENT = {
    "external_id": EXTERNAL_ID,
    "title": "AWS Cost Explorer interruption in a mainland-China region (Kiro)",
    "summary": [
        cited(
            "In mid-December 2025 AWS Cost Explorer was interrupted for about 13 hours in one of the two "
            "mainland-China regions",
            FT,
        ),
        cited(
            'Engineers let the AI agent Kiro fix an issue and it chose to "delete and then recreate the '
            "environment\"; Kiro normally needs two-person sign-off but had inherited an operator's broader "
            "permissions",
            FT,
        ),
        cited(
            "Amazon says the cause was misconfigured access controls, not AI, and that AI involvement was a "
            "coincidence",
            AMAZON,
        ),
        ours("The attribution is disputed"),
    ],
    "severity": Severity.SEV2,
    "status": IncidentStatus.RESOLVED,
    "team": "Cost management",
    "owner": "reviewer",
    "services": ["AWS Cost Explorer", "Kiro"],
    "regions": ["cn-mainland (one of two)"],
    "tags": ["ai-agent", "access-control", "disputed-attribution"],
    "started_at": MID_DECEMBER,
    "time_precision": TimePrecision.MONTH,
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "reported_duration": timedelta(hours=13),
    "reported_duration_source": FT,
    "customer_impact": [
        cited("Cost Explorer was unavailable for about 13 hours", FT),
        cited("One of 39 AWS regions was affected, and there were no customer inquiries", AMAZON),
        ours("The sources give no count of affected customers or requests"),
    ],
    "primary_cause": PrimaryCause.ACCESS_CONTROL,
    "trigger_kind": TriggerKind.AGENT_ACTION,
    "trigger_text": [
        cited('Kiro, asked by engineers to fix an issue, chose to "delete and then recreate the environment"', FT),
    ],
    "harm_level": HarmLevel.EVENT,
    "attribution_status": AttributionStatus.DISPUTED,
    "adopted_cause": PrimaryCause.ACCESS_CONTROL,
    "adopted_cause_rationale": [
        cited(
            "The FT presents the AI agent as central: Kiro chose to delete and recreate the environment, and "
            "although it normally needs two-person sign-off it had inherited an operator's broader permissions",
            FT,
        ),
        cited(
            'Amazon says the cause was "user error—specifically misconfigured access controls—not AI" and that '
            'AI involvement was "a coincidence"',
            AMAZON,
        ),
        ours(
            "We adopt access_control because both accounts involve access: the FT's inherited permissions and "
            "Amazon's misconfigured access controls. Amazon's account does not mention a second approver"
        ),
        ours("The classification names the system or control, never the person"),
        ours("The AI's role stays disputed: the FT's account is recorded as an executor role, Amazon's as none"),
        ours(
            "Kiro requesting authorization by default describes how Kiro already worked, not a new fix, so it is "
            "not a corrective action here"
        ),
    ],
    "sources": [
        FT,
        "register_kiro",
        AMAZON,
        "aiaaic_kiro",
        "tectack_kiro",
        "lastweekinaws_kiro",
        "giganectar_kiro",
        "vuink_kiro_preview",
    ],
    "factors": [
        ContributingFactor.EXCESSIVE_PERMISSIONS,
        ContributingFactor.REVIEW_BYPASSED,
        ContributingFactor.AI_ASSISTED_CHANGE,
    ],
    "impact_figures": [
        {
            "name": "Interruption duration",
            "value": "13",
            "unit": "hours",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 13 hours'; neither end time is reported.",
            "source": FT,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Regions affected",
            "value": "1",
            "unit": "of 39 regions",
            "is_estimate": False,
            "as_of": None,
            "note": "Amazon: one of 39 regions was affected.",
            "source": AMAZON,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Customer inquiries",
            "value": "0",
            "unit": "inquiries",
            "is_estimate": False,
            "as_of": None,
            "note": "Amazon: there were no customer inquiries.",
            "source": AMAZON,
            "basis": Basis.REPORTED,
        },
    ],
    "timeline": [
        {
            "moment": "kiro-preview",
            "occurred_at": dated(2025, 7, 14),
            "precision": TimePrecision.DAY,
            "estimated": False,
            "display_tz": "UTC",
            "kind": TimelineKind.CONTEXT,
            "description": "Kiro preview released.",
            "actor_kind": ActorKind.UNKNOWN,
            "source": "vuink_kiro_preview",
            "basis": Basis.REPORTED,
        },
        {
            "moment": "kiro-delete-recreate",
            "occurred_at": MID_DECEMBER,
            "precision": TimePrecision.MONTH,
            "estimated": False,
            "display_tz": "UTC",
            "kind": TimelineKind.AGENT_ACTION,
            "description": (
                'Mid-December (day not reported): engineers let Kiro fix an issue; it chose to "delete and then '
                "recreate the environment\", acting with an operator's broader permissions."
            ),
            "actor_kind": ActorKind.AI_AGENT,
            "source": FT,
            "basis": Basis.REPORTED,
        },
        {
            "moment": "impact-start",
            "occurred_at": MID_DECEMBER,
            "precision": TimePrecision.MONTH,
            "estimated": False,
            "display_tz": "UTC",
            "kind": TimelineKind.START,
            "description": (
                "Mid-December (day not reported): Cost Explorer interrupted in one of the two mainland-China "
                "regions, for about 13 hours."
            ),
            "actor_kind": ActorKind.UNKNOWN,
            "source": FT,
            "basis": Basis.REPORTED,
        },
        {
            "moment": "ft-report",
            "occurred_at": dated(2026, 2, 20),
            "precision": TimePrecision.DAY,
            "estimated": True,  # "about 2026-02-20"
            "display_tz": "UTC",
            "kind": TimelineKind.COMMUNICATION,
            "description": "About 20 February: the FT reports the incident and Kiro's part in it.",
            "actor_kind": ActorKind.HUMAN,
            "source": FT,
            "basis": Basis.REPORTED,
        },
        {
            "moment": "amazon-rebuttal",
            "occurred_at": dated(2026, 2, 20),
            "precision": TimePrecision.DAY,
            "estimated": True,
            "display_tz": "UTC",
            "kind": TimelineKind.COMMUNICATION,
            "description": "About 20 February: Amazon publishes its correction of the FT report.",
            "actor_kind": ActorKind.HUMAN,
            "source": AMAZON,
            "basis": Basis.REPORTED,
        },
        {
            "moment": "register-piece",
            "occurred_at": dated(2026, 2, 24),
            "precision": TimePrecision.DAY,
            "estimated": False,
            "display_tz": "UTC",
            "kind": TimelineKind.COMMUNICATION,
            "description": "The Register publishes its piece on the FT report.",
            "actor_kind": ActorKind.HUMAN,
            "source": "register_kiro",
            "basis": Basis.REPORTED,
        },
    ],
    "claims": [
        {
            "claimant": "Financial Times",
            "source": FT,
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "Engineers let the AI agent Kiro fix an issue, and it chose to delete and then recreate the "
                "environment, interrupting Cost Explorer for about 13 hours."
            ),
            "quote": "delete and then recreate the environment",
        },
        {
            "claimant": "Financial Times",
            "source": FT,
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.ACCESS_CONTROL,
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "Kiro normally needs two-person sign-off, but it had inherited an operator's broader permissions."
            ),
            "quote": "",
        },
        {
            "claimant": "Amazon employees (via the FT)",
            "source": FT,
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "This was at least the second AI-linked incident; the other involved Q Developer.",
            "quote": "",
            "formerly": ["This was at least the second AI-linked incident; the other involved Amazon Q Developer."],
        },
        {
            "claimant": "Amazon",
            "source": AMAZON,
            "stance": Stance.DENIES,
            "claimed_cause": PrimaryCause.ACCESS_CONTROL,
            "claimed_ai_role": ClaimedAIRole.NONE,
            "statement": "The cause was misconfigured access controls, not AI.",
            "quote": "user error—specifically misconfigured access controls—not AI",
        },
        {
            "claimant": "Amazon",
            "source": AMAZON,
            "stance": Stance.DENIES,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.NONE,
            "statement": "That an AI tool was involved was a coincidence.",
            "quote": "a coincidence",
        },
        {
            "claimant": "Amazon",
            "source": AMAZON,
            "stance": Stance.CORRECTS,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "One of 39 regions was affected, and there were no customer inquiries.",
            "quote": "",
        },
        {
            "claimant": "Amazon",
            "source": AMAZON,
            "stance": Stance.DENIES,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "The claim that a second event impacted AWS is false.",
            "quote": "completely false",
        },
    ],
    "ai": [
        {
            "agent_name": "Kiro",
            "vendor": "AWS (Amazon)",
            "role": AIRole.EXECUTOR,
            # No source names a level. Our reading: Kiro requests authorization by default (it asks
            # before high-risk actions), which is L4 Approver.
            "autonomy_level": AutonomyLevel.L4,
            "gate_present": TriState.YES,
            "gate_type": GateType.TWO_PERSON,
            # Our reading of the FT's account: two-person sign-off is the norm, but the inherited
            # permissions let the action run without it. Amazon disputes the framing.
            "gate_bypassed": TriState.YES,
            # The FT says "broader permissions"; that they could write to production is our reading.
            "permissions_held": PermissionScope.WRITE_PROD,
            "permissions_inherited": TriState.YES,
            "action_taken": 'Chose to "delete and then recreate the environment" while fixing an issue.',
            "action_class": ActionClass.DELETE_RECREATE,
            "reversible": TriState.UNKNOWN,
            "excessive_functionality": False,
            "excessive_permissions": True,
            "excessive_autonomy": False,
            "evidence": [FT, "register_kiro", AMAZON, "aiaaic_kiro"],
            "cited": {
                "agent_name": FT,
                "role": FT,
                "gate_present": FT,
                "gate_type": FT,
                "permissions_inherited": FT,
                "action_taken": FT,
                "action_class": FT,
            },
            "ours": ["autonomy_level", "gate_bypassed", "permissions_held"],
        }
    ],
    # Every status, owner, due date and completion below is demo workflow, not AWS's progress.
    "actions": [
        {
            "title": "Mandatory peer review for production access",
            "formerly": ["Require peer review for all production access"],
            "description": (
                "Reported corrective action: mandatory peer review for production access (AIAAIC; "
                "giganectar.com). The sources give no date for it."
            ),
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.DONE,
            "owner": "reviewer",
            "team": "Cost management",
            "due_date": None,
            "completed_at": None,
            "ticket_url": ticket(101),
            "answers_why": "Chain 1, why 3: the sign-off did not cover the inherited operator permissions.",
            "source": "aiaaic_kiro",
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Training, reported alongside mandatory peer review for production access",
            "formerly": ["Agent-access training for engineers who run agents against production"],
            "description": (
                "Reported corrective action: training, alongside the peer-review mandate (AIAAIC; "
                "giganectar.com). The sources do not say who is trained, on what, or when."
            ),
            "action_type": ActionType.PROCESS,
            "priority": Priority.P3,
            "status": ActionStatus.DONE,
            "owner": "dana",
            "team": "Cost management",
            "due_date": None,
            "completed_at": None,
            "ticket_url": ticket(102),
            "answers_why": "Chain 1, why 2: an agent acting with an operator's permissions.",
            "source": "giganectar_kiro",
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Issue agent sessions their own task-scoped credentials instead of the operator's role",
            "description": "Proposed in this COE; not reported by the sources.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "omar",
            "team": "Agent platform",
            "due_date": date(2026, 9, 30),
            "completed_at": None,
            "ticket_url": ticket(103),
            "answers_why": "Chain 1, why 4: the approval requirement followed the identity, not the action.",
            "source": None,
            "disputed": False,
            "basis": Basis.PROPOSAL,
        },
        {
            "title": "Require a second approver for delete-and-recreate actions whatever credentials an agent holds",
            "description": "Proposed in this COE; not reported by the sources.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.OPEN,
            "owner": "reviewer",
            "team": "Agent platform",
            "due_date": date(2026, 10, 15),
            "completed_at": None,
            "ticket_url": ticket(104),
            "answers_why": "Chain 2, why 3: no approval keyed to destructive action classes.",
            "source": None,
            "disputed": False,
            "basis": Basis.PROPOSAL,
        },
        {
            "title": "Alarm on regional Cost Explorer availability and on environment deletion outside a change",
            "description": (
                "Proposed in this COE. The sources do not say how the interruption was detected, so a "
                "detection-time target cannot be set from them."
            ),
            "action_type": ActionType.DETECT,
            "priority": Priority.P2,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Cost management",
            "due_date": date(2027, 1, 29),
            "completed_at": None,
            "ticket_url": ticket(105),
            "answers_why": "Detection: the public sources give no detection time or signal.",
            "source": None,
            "disputed": False,
            "basis": Basis.PROPOSAL,
        },
        {
            "title": "Write and rehearse a restore runbook for a regional Cost Explorer environment",
            "description": "Proposed in this COE, so a deleted environment comes back faster than about 13 hours.",
            "action_type": ActionType.MITIGATE,
            "priority": Priority.P2,
            "status": ActionStatus.OPEN,
            "owner": "omar",
            "team": "Cost management",
            "due_date": date(2027, 3, 31),
            "completed_at": None,
            "ticket_url": ticket(106),
            "answers_why": "Chain 2, why 1: recovery meant a rebuild, not an undo.",
            "source": None,
            "disputed": False,
            "basis": Basis.PROPOSAL,
        },
    ],
}

_WHYS = [
    {
        "cause": [ours("Access control: an agent acting with inherited operator permissions ran a destructive change")],
        "links": [
            [
                cited(
                    "Why was Cost Explorer interrupted? Kiro deleted and recreated the environment serving it in "
                    "one mainland-China region",
                    FT,
                ),
            ],
            [
                cited(
                    "Why could the delete-and-recreate run? Kiro was acting with an operator's broader permissions",
                    FT,
                ),
                cited("Amazon calls the cause misconfigured access controls", AMAZON),
            ],
            [
                cited(
                    "Why did the two-person sign-off not apply? Kiro normally needs two-person sign-off, but it had "
                    "inherited an operator's broader permissions",
                    FT,
                ),
                ours(
                    "We read this as the sign-off guarding Kiro's own permission path only; the sources do not "
                    "describe the mechanism"
                ),
            ],
            [
                ours(
                    "Why did inherited permissions skip the sign-off? The approval requirement followed the "
                    "identity rather than the action, so a destructive action under another identity's permissions "
                    "needed no second approver. The public sources do not describe the configuration"
                ),
            ],
        ],
    },
    {
        "cause": [ours("Agent action scope: delete-and-recreate was an available fix for an ordinary issue")],
        "links": [
            [
                cited(
                    'Why did fixing an issue take the service down? Kiro chose to "delete and then recreate the '
                    'environment"',
                    FT,
                ),
            ],
            [
                ours(
                    "Why was that choice open to the agent? Its tools allowed environment-level destructive actions "
                    "in production with the permissions it held"
                ),
            ],
            [
                ours(
                    "Why was a destructive action not stopped on its own merits? No approval step was keyed to "
                    "destructive action classes on the path it took"
                ),
            ],
        ],
    },
]

# Demo workflow: written, reviewed and published by demo users on these dates.
COE = {
    "authors": ["reviewer"],
    "owner": "reviewer",
    "approver": "approver",
    "status": CoeStatus.PUBLISHED,
    "reviewed_in_ops_meeting": False,
    "created_at": utc(2026, 2, 26, 9, 30),
    "submitted_at": utc(2026, 3, 3, 16, 0),
    "approved_at": utc(2026, 3, 6, 17, 30),
    "published_at": utc(2026, 3, 9, 9, 0),
    "revision": {"saved_by": "reviewer", "saved_at": utc(2026, 3, 9, 9, 0), "note": "Seeded: published text."},
    "whys": _WHYS,
    "sections": {
        "summary": [
            cited(
                "In mid-December 2025, AWS Cost Explorer was interrupted for about 13 hours in one of the two AWS "
                "mainland-China regions",
                FT,
            ),
            ours("No source gives the day"),
            cited(
                'Engineers let the AI agent Kiro fix an issue and it chose to "delete and then recreate the '
                "environment\"; Kiro normally needs two-person sign-off but was acting with an operator's broader "
                "permissions",
                FT,
            ),
            cited("Amazon attributes the event to misconfigured access controls rather than AI", AMAZON),
            ours("This COE adopts access control as the cause and records the AI's part as disputed"),
        ],
        "impact": [
            cited("Duration: about 13 hours", FT),
            ours(
                "The public sources give neither the start nor the end time, so no time zone applies and time to "
                "detect or mitigate cannot be computed"
            ),
            LINE,
            cited("Scope: AWS Cost Explorer in 1 of 39 AWS regions", AMAZON),
            cited("The region was one of the two mainland-China regions", FT),
            ours("The sources do not say which"),
            LINE,
            cited("Customers: there were 0 customer inquiries", AMAZON),
            ours(
                "The public sources do not give the number of affected customers or requests, or any financial impact"
            ),
        ],
        "background": [
            ours(
                "AWS: Amazon Web Services. Cost Explorer: the AWS console and API for viewing and analysing AWS spend"
            ),
            cited("Kiro: AWS's AI coding agent, released in preview on 2025-07-14", "vuink_kiro_preview"),
            ours(
                "By default Kiro requests authorization before acting; that is how Kiro already worked, not a fix. "
                "COE: Correction of Error. FT: Financial Times. Two-person sign-off: a change runs only after a "
                "second person approves it. Inherited permissions: an agent acting with the credentials of the "
                "person who started it, rather than credentials scoped to the agent's task. AIAAIC: the AI, "
                'Algorithmic, and Automation Incidents and Controversies repository. OWASP LLM06: "Excessive '
                "Agency\" in the Open Worldwide Application Security Project's Top 10 for LLM (large language "
                "model) applications"
            ),
        ],
        "timeline_narrative": [
            ours("Dates only; the sources give no times of day"),
            LINE,
            cited("- 2025-07-14: Kiro preview released", "vuink_kiro_preview"),
            LINE,
            cited(
                "- Mid-December 2025 (day not reported): engineers let Kiro fix an issue; it deleted and recreated "
                "the environment, and Cost Explorer in one mainland-China region was interrupted for about 13 hours",
                FT,
            ),
            LINE,
            cited("- About 2026-02-20: the FT reports the incident", FT),
            cited('Amazon publishes "Correcting the Financial Times report about AWS, Kiro, and AI"', AMAZON),
            LINE,
            cited("- 2026-02-24: The Register's piece", "register_kiro"),
            LINE,
            ours("The public sources do not give the times of detection, engagement, mitigation start or resolution"),
        ],
        "metrics": [
            ours(
                "The public sources publish no metrics, graphs or logs for this event. The numbers on record are "
                "reported, not measured by us, each stored as an impact figure with its source"
            ),
            cited("About 13 hours", FT),
            cited("1 of 39 regions and 0 customer inquiries", AMAZON),
        ],
        "trigger": [
            cited('Kiro, asked by engineers to fix an issue, chose to "delete and then recreate the environment"', FT),
            ours("Trigger kind: agent action. The public sources do not say what the original issue was"),
        ],
        "root_cause": [
            ours("Adopted cause: access control"),
            cited("Kiro normally needs two-person sign-off but had inherited an operator's broader permissions", FT),
            cited("Amazon names misconfigured access controls and calls the AI's involvement a coincidence", AMAZON),
            ours(
                "Both accounts involve access, though only the FT's mentions sign-off; we read the failure as a "
                "destructive action running without the sign-off Kiro normally needs. The accounts disagree on the "
                "AI's role; this COE keeps both (see the claims) rather than settling it. The public sources do not "
                "describe the access-control configuration itself, so no metrics or logs back this root cause"
            ),
        ],
        "resolution": [
            ours(
                "The public sources do not say how the service was restored, only that the interruption lasted "
                "about 13 hours"
            ),
            cited(
                "Reported afterwards: mandatory peer review for production access, plus training",
                "aiaaic_kiro",
                "giganectar_kiro",
            ),
            ours("Kiro requesting authorization by default is how Kiro already worked, not a fix"),
        ],
        "detection": [
            ours("The public sources do not say how or when the interruption was detected"),
            cited("Amazon reports no customer inquiries", AMAZON),
            ours("That suggests detection did not come from customers"),
        ],
        "q_detection": [
            ours(
                "An availability alarm on Cost Explorer per region, and an alarm when a service environment is "
                "deleted outside an approved change. The public sources do not say which alarms existed"
            ),
        ],
        "q_diagnosis": [
            ours(
                "When an agent session runs a destructive action, notify the owning team with the session, the role "
                "it acted under and the approval trail, so responders know at once that an agent acted. The public "
                "sources do not describe the escalation that took place"
            ),
        ],
        "q_mitigation": [
            ours(
                "A restore runbook for a regional Cost Explorer environment, rehearsed in a non-production region, "
                "so a delete-and-recreate is reversed faster than about 13 hours. The public sources do not describe "
                "the runbook used"
            ),
        ],
        "q_prevention": [
            ours(
                "Give agent sessions task-scoped credentials instead of the operator's role; require a second "
                "approver for delete-and-recreate actions whatever credentials the agent holds; keep the reported "
                "peer review for production access. The whys below give the chains"
            ),
        ],
        "pillar_implications": [
            ours(
                "Security: an agent acting with inherited operator permissions is OWASP LLM06 excessive agency "
                "(excessive permissions). Reliability: one action could remove a whole regional environment. Cost: "
                "the public sources give no business cost. Operational excellence: an approval gate tied to one "
                "identity does not protect a path that uses another identity's permissions"
            ),
        ],
        "lessons_went_well": [
            cited("The impact stayed in 1 of 39 regions, and Amazon reports no customer inquiries", AMAZON),
            ours("Amazon's correction appeared within days of the press report, which put both accounts on record"),
        ],
        "lessons_went_wrong": [
            ours(
                "The two-person sign-off did not cover the operator permissions Kiro inherited. Deleting and "
                "recreating a whole environment was available as a fix for an ordinary issue"
            ),
            cited("The interruption lasted about 13 hours", FT),
        ],
        "lessons_lucky": [
            ours(
                "The affected service was a cost-reporting tool in a single region. The public sources do not say "
                "what else the inherited permissions allowed; the same path on a data-plane service could have had "
                "a wider blast radius"
            ),
        ],
        "related_items": [
            ours("Tickets (demo tracker): COE-101 to COE-106 (tickets.example.com)"),
            LINE,
            ours(
                'Sources: FT (via The Register, 2026-02-24); Amazon, "Correcting the Financial Times report about '
                'AWS, Kiro, and AI" (about 2026-02-20); AIAAIC; tectack.org; lastweekinaws.com; giganectar.com'
            ),
            LINE,
            cited(
                "Prior similar incidents: employees call this at least the second AI-linked incident, the other "
                "involving Q Developer",
                FT,
            ),
            cited('Amazon calls a second event impacting AWS "completely false"', AMAZON),
            LINE,
            ours(
                "In this knowledge base, public before this COE: the July 2025 Replit database deletion (an agent "
                "with write access to a production database)"
            ),
            LINE,
            ours(
                "Template: AWS Well-Architected, Correction of Error, https://wa.aws.amazon.com/wat.concept.coe.en.html"
            ),
        ],
    },
}
INCIDENT["coe"] = COE
