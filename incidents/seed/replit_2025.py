"""July 2025: the Replit agent deletes SaaStr's production database (DOMAIN.md 3.4).

Dates only, so day precision. securie.ai is not used: its date and its
hourly-backup restore contradict the primary accounts. Masad's response of
2025-07-20 is not in the timeline: no source our notes name is its source.
"""

from incidents.models.vocab import (
    ActionStatus,
    ActionType,
    ActorKind,
    AIRole,
    AttributionStatus,
    Basis,
    ClaimedAIRole,
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

from .common import cited, date, dated, ticket

LEMKIN = "lemkin_thread"
REPLIT = "replit_release"

EXTERNAL_ID = "seed:replit-agent-saastr-db-deletion-2025-07"


def _event(moment, when, kind, description, source, actor=ActorKind.UNKNOWN, estimated=False, basis=Basis.REPORTED):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": TimePrecision.DAY,
        "estimated": estimated,
        "basis": basis,
        "display_tz": "UTC",
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
    }


INCIDENT = {
    "external_id": EXTERNAL_ID,
    "title": "Replit agent deletes SaaStr's production database during a code freeze",
    "summary": [
        cited(
            "On 18 July 2025, Day 9 of Jason Lemkin's vibe-coding experiment, the Replit agent deleted the "
            "production database (1,206 executives and 1,196 companies) during an explicit code and action freeze",
            LEMKIN,
        ),
        cited("It fabricated about 4,000 records and said rollback was impossible", LEMKIN),
        cited('"Replit was wrong, and the rollback did work"', "datapace_rollback"),
        cited(
            'Apps used "a single database for development and live customer data"; development/production '
            "database separation shipped in beta on 21 July",
            REPLIT,
        ),
    ],
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Agent platform",
    "owner": "reviewer",
    "services": ["Replit Agent", "SaaStr production database (Replit app)"],
    "regions": [],
    "tags": ["ai-agent", "data-loss", "vibe-coding"],
    "started_at": dated(2025, 7, 18),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    # The rollback worked on 18 or 19 July; the accounts differ by a day, so no end is stored.
    "resolved_at": None,
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": [
        cited(
            "The production database holding 1,206 executives and 1,196 companies was deleted; the agent "
            "fabricated about 4,000 records",
            LEMKIN,
        ),
        cited("The rollback did work, on 18 or 19 July", "datapace_rollback"),
    ],
    "primary_cause": PrimaryCause.ACCESS_CONTROL,
    "trigger_kind": TriggerKind.AGENT_ACTION,
    "trigger_text": [
        cited("The agent deleted the production database during an explicit code and action freeze", LEMKIN),
    ],
    "harm_level": HarmLevel.EVENT,
    "attribution_status": AttributionStatus.UNDISPUTED,
    "adopted_cause": "",
    "adopted_cause_rationale": [],
    "sources": [
        "lemkin_thread",
        "tomcomp_windows_central",
        "digwatch_replit",
        "replit_release",
        "theaifiles_replit_blog",
        "datapace_rollback",
    ],
    "factors": [
        ContributingFactor.NO_ENV_SEPARATION,
        ContributingFactor.EXCESSIVE_PERMISSIONS,
        ContributingFactor.AGENT_MISREPORTED_STATE,
        ContributingFactor.AI_ASSISTED_CHANGE,
    ],
    "impact_figures": [
        {
            "name": "Executive records in the deleted database",
            "value": "1206",
            "unit": "records",
            "is_estimate": False,
            "as_of": None,
            "note": "",
            "source": LEMKIN,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Company records in the deleted database",
            "value": "1196",
            "unit": "records",
            "is_estimate": False,
            "as_of": None,
            "note": "",
            "source": LEMKIN,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Records fabricated by the agent",
            "value": "4000",
            "unit": "records",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 4,000'.",
            "source": LEMKIN,
            "basis": Basis.REPORTED,
        },
    ],
    "timeline": [
        _event(
            "replit-safest-place-blog",
            dated(2025, 7, 8),
            TimelineKind.CONTEXT,
            'Replit blog post "Safest Place for Vibe Coding".',
            "theaifiles_replit_blog",
        ),
        _event(
            "experiment-starts",
            dated(2025, 7, 10),
            TimelineKind.CONTEXT,
            "Day 1 of the vibe-coding experiment, counted back from 18 July being Day 9; no source gives the "
            "start date.",
            LEMKIN,
            ActorKind.HUMAN,
            estimated=True,
            basis=Basis.READING,
        ),
        _event(
            "database-deleted",
            dated(2025, 7, 18),
            TimelineKind.AGENT_ACTION,
            "The agent deletes the production database during an explicit code and action freeze.",
            LEMKIN,
            ActorKind.AI_AGENT,
        ),
        # The thread also says the agent fabricated about 4,000 records; no source dates that.
        _event(
            "agent-misreports-rollback",
            dated(2025, 7, 18),
            TimelineKind.AGENT_ACTION,
            "The agent says rollback is impossible.",
            LEMKIN,
            ActorKind.AI_AGENT,
        ),
        _event(
            "rollback-works",
            dated(2025, 7, 18),
            TimelineKind.MITIGATION,
            "18 or 19 July (accounts differ by a day): the rollback works.",
            "datapace_rollback",
            ActorKind.HUMAN,
            estimated=True,
        ),
        _event(
            "dev-prod-split-ships",
            dated(2025, 7, 21),
            TimelineKind.MITIGATION,
            "Development/production database separation ships in beta.",
            REPLIT,
            ActorKind.HUMAN,
        ),
    ],
    "claims": [
        {
            "claimant": "Jason Lemkin (SaaStr)",
            "source": LEMKIN,
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "The Replit agent deleted the production database during an explicit code and action freeze; it "
                "fabricated about 4,000 records and said rollback was impossible."
            ),
            "formerly": [
                "The Replit agent deleted the production database during an explicit code and action freeze, "
                "then fabricated records and said rollback was impossible."
            ],
            "quote": "",
        },
        {
            "claimant": "Jason Lemkin (SaaStr)",
            "source": "datapace_rollback",
            "stance": Stance.CORRECTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": "The agent's claim that rollback was impossible was wrong: the rollback worked.",
            "quote": "Replit was wrong, and the rollback did work",
        },
        {
            "claimant": "Replit",
            "source": REPLIT,
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.ACCESS_CONTROL,
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "Apps used a single database for development and live customer data; development and production "
                "databases are now separated (in beta)."
            ),
            "formerly": [
                "Apps used one database for development and live customer data, so the agent could reach "
                "production data; development and production are now separated."
            ],
            "quote": "a single database for development and live customer data",
        },
    ],
    "ai": [
        {
            "agent_name": "Replit Agent",
            "vendor": "Replit",
            "role": AIRole.EXECUTOR,
            "autonomy_level": "",  # The sources do not name a mode.
            # The sources describe no approval step, nor its absence.
            "gate_present": TriState.UNKNOWN,
            "gate_type": GateType.UNKNOWN,
            "gate_bypassed": TriState.UNKNOWN,
            # Our reading: it deleted the production database, so it could write to production.
            "permissions_held": PermissionScope.WRITE_PROD,
            "permissions_inherited": TriState.UNKNOWN,
            "action_taken": (
                "Deleted the production database (1,206 executives, 1,196 companies) during an explicit code and "
                "action freeze, and said rollback was impossible."
            ),
            # The sources do not say how it deleted the database (SQL or otherwise).
            "action_class": "",
            "reversible": TriState.YES,
            "excessive_functionality": False,
            "excessive_permissions": True,
            "excessive_autonomy": True,
            "evidence": [LEMKIN, "datapace_rollback", REPLIT, "tomcomp_windows_central"],
            "cited": {"agent_name": LEMKIN, "role": LEMKIN, "action_taken": LEMKIN, "reversible": "datapace_rollback"},
            "ours": ["permissions_held"],
        }
    ],
    # Every status, owner and due date below is demo workflow, not Replit's progress.
    "actions": [
        {
            "title": "Separate development and production databases automatically",
            "description": "Announced by Replit; shipped in beta on 2025-07-21.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.DONE,
            "owner": "reviewer",
            "team": "Agent platform",
            "due_date": None,
            "completed_at": None,
            "ticket_url": ticket(501),
            "answers_why": "One database served development and live customer data.",
            "source": REPLIT,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Staging environments for Replit apps",
            "description": "Announced by Replit.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "omar",
            "team": "Agent platform",
            "due_date": date(2026, 12, 18),
            "completed_at": None,
            "ticket_url": ticket(502),
            "answers_why": "Changes went straight to the live app.",
            "source": REPLIT,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": 'Planning / "chat-only" mode for the agent',
            "description": "Announced by Replit.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "reviewer",
            "team": "Agent platform",
            "due_date": date(2026, 6, 30),
            "completed_at": None,
            "ticket_url": ticket(503),
            "answers_why": "The agent acted during an explicit code and action freeze.",
            "source": REPLIT,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Better internal documentation",
            "formerly": ["Internal documentation for the agent on database access and rollback"],
            "description": "Announced by Replit: better internal docs.",
            "action_type": ActionType.PROCESS,
            "priority": Priority.P3,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Agent platform",
            "due_date": date(2027, 1, 29),
            "completed_at": None,
            "ticket_url": ticket(504),
            "answers_why": "The agent reported rollback as impossible when it worked.",
            "source": REPLIT,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
    ],
    "coe": None,
}
