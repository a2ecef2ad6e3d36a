"""July 2025: the Replit agent deletes SaaStr's production database (DOMAIN.md 3.4).

Dates only, so day precision. securie.ai is not used: its date and its
hourly-backup restore contradict the primary accounts.
"""

from incidents.models.vocab import (
    ActionClass,
    ActionStatus,
    ActionType,
    ActorKind,
    AIRole,
    AttributionStatus,
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

from .common import date, representative, ticket, utc

EXTERNAL_ID = "seed:replit-agent-saastr-db-deletion-2025-07"


def _event(moment, when, kind, description, source, actor=ActorKind.UNKNOWN):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": TimePrecision.DAY,
        "display_tz": "UTC",
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
    }


INCIDENT = {
    "external_id": EXTERNAL_ID,
    "title": "Replit agent deletes SaaStr's production database during a code freeze",
    "summary": (
        "On 18 July 2025, Day 9 of Jason Lemkin's vibe-coding experiment, the Replit agent deleted the "
        "production database (1,206 executives and 1,196 companies) during an explicit code and action freeze. "
        "It then fabricated about 4,000 records and said rollback was impossible; the rollback did work. Replit "
        'says apps used "a single database for development and live customer data"; it shipped development/'
        "production database separation in beta on 21 July."
    ),
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Agent platform",
    "owner": "reviewer",
    "services": ["Replit Agent", "SaaStr production database (Replit app)"],
    "regions": [],
    "tags": ["ai-agent", "data-loss", "vibe-coding"],
    "started_at": representative(2025, 7, 18),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    # The rollback worked on 18 or 19 July; the accounts differ by a day, so no end is stored.
    "resolved_at": None,
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": (
        "The production database holding 1,206 executives and 1,196 companies was deleted; the agent fabricated "
        "about 4,000 records (Lemkin's thread). Restored by rollback on 18 or 19 July (Lemkin, quoted by "
        "datapace.ai)."
    ),
    "primary_cause": PrimaryCause.ACCESS_CONTROL,
    "trigger_kind": TriggerKind.AGENT_ACTION,
    "trigger_text": "The agent deleted the production database during an explicit code and action freeze.",
    "harm_level": HarmLevel.EVENT,
    "attribution_status": AttributionStatus.UNDISPUTED,
    "adopted_cause": "",
    "adopted_cause_rationale": "",
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
            "source": "lemkin_thread",
        },
        {
            "name": "Company records in the deleted database",
            "value": "1196",
            "unit": "records",
            "is_estimate": False,
            "as_of": None,
            "note": "",
            "source": "lemkin_thread",
        },
        {
            "name": "Records fabricated by the agent",
            "value": "4000",
            "unit": "records",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 4,000'.",
            "source": "lemkin_thread",
        },
    ],
    "timeline": [
        _event(
            "replit-safest-place-blog",
            representative(2025, 7, 8),
            TimelineKind.CONTEXT,
            'Replit blog post "Safest Place for Vibe Coding".',
            "theaifiles_replit_blog",
        ),
        _event(
            "experiment-starts",
            representative(2025, 7, 12),
            TimelineKind.CONTEXT,
            "About 12 July: the vibe-coding experiment starts (18 July is Day 9).",
            "lemkin_thread",
            ActorKind.HUMAN,
        ),
        _event(
            "database-deleted",
            representative(2025, 7, 18),
            TimelineKind.AGENT_ACTION,
            "The agent deletes the production database during an explicit code and action freeze.",
            "lemkin_thread",
            ActorKind.AI_AGENT,
        ),
        _event(
            "agent-misreports-rollback",
            representative(2025, 7, 18),
            TimelineKind.AGENT_ACTION,
            "The agent fabricates about 4,000 records and says rollback is impossible.",
            "lemkin_thread",
            ActorKind.AI_AGENT,
        ),
        _event(
            "rollback-works",
            representative(2025, 7, 18),
            TimelineKind.MITIGATION,
            "18 or 19 July (accounts differ by a day): the rollback works.",
            "datapace_rollback",
            ActorKind.HUMAN,
        ),
        _event(
            "ceo-responds",
            representative(2025, 7, 20),
            TimelineKind.COMMUNICATION,
            'Replit\'s CEO, Amjad Masad, calls the deletion "unacceptable" and refunds Lemkin.',
            "replit_release",
            ActorKind.HUMAN,
        ),
        _event(
            "dev-prod-split-ships",
            representative(2025, 7, 21),
            TimelineKind.MITIGATION,
            "Development/production database separation ships in beta.",
            "replit_release",
            ActorKind.HUMAN,
        ),
    ],
    "claims": [
        {
            "claimant": "Jason Lemkin (SaaStr)",
            "source": "lemkin_thread",
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "The Replit agent deleted the production database during an explicit code and action freeze, "
                "then fabricated records and said rollback was impossible."
            ),
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
            "source": "replit_release",
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.ACCESS_CONTROL,
            "claimed_ai_role": ClaimedAIRole.EXECUTOR,
            "statement": (
                "Apps used one database for development and live customer data, so the agent could reach "
                "production data; development and production are now separated."
            ),
            "quote": "a single database for development and live customer data",
        },
    ],
    "ai": [
        {
            "agent_name": "Replit Agent",
            "vendor": "Replit",
            "role": AIRole.EXECUTOR,
            "autonomy_level": "",  # The sources do not name a mode.
            # The freeze was an instruction to the agent, not an approval step
            # the platform enforced.
            "gate_present": TriState.NO,
            "gate_type": GateType.NONE,
            "gate_bypassed": TriState.UNKNOWN,
            "permissions_held": PermissionScope.WRITE_PROD,
            "permissions_inherited": TriState.UNKNOWN,
            "action_taken": (
                "Deleted the production database (1,206 executives, 1,196 companies) during an explicit code and "
                "action freeze, then fabricated about 4,000 records and said rollback was impossible. The sources "
                "do not give the exact command."
            ),
            "action_class": ActionClass.DESTRUCTIVE_SQL,
            "reversible": TriState.YES,
            "excessive_functionality": False,
            "excessive_permissions": True,
            "excessive_autonomy": True,
            "evidence": ["lemkin_thread", "datapace_rollback", "replit_release", "tomcomp_windows_central"],
        }
    ],
    "actions": [
        {
            "title": "Separate development and production databases automatically",
            "description": "Announced by Replit; shipped in beta on 2025-07-21.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.DONE,
            "owner": "reviewer",
            "team": "Agent platform",
            "due_date": date(2025, 7, 31),
            "completed_at": utc(2025, 7, 21, 12, 0),
            "ticket_url": ticket(501),
            "answers_why": "One database served development and live customer data.",
            "source": "replit_release",
            "disputed": False,
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
            "source": "replit_release",
            "disputed": False,
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
            "answers_why": "A code freeze was only an instruction; nothing enforced it.",
            "source": "replit_release",
            "disputed": False,
        },
        {
            "title": "Internal documentation for the agent on database access and rollback",
            "description": "Announced by Replit as better internal docs.",
            "action_type": ActionType.PROCESS,
            "priority": Priority.P3,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Agent platform",
            "due_date": date(2027, 1, 29),
            "completed_at": None,
            "ticket_url": ticket(504),
            "answers_why": "The agent reported rollback as impossible when it worked.",
            "source": "replit_release",
            "disputed": False,
        },
    ],
    "coe": None,
}
