"""March 2026: the two Amazon.com retail incidents, March 2 and March 5 (DOMAIN.md 3.3).

Two incidents, not one. The sources give dates only, so starts are day
precision and the March 5 duration ("about 6 h") is a reported duration.
Which of the two was the AI-linked one is itself disputed: Grokipedia says
March 2, banandre.com says March 5, and Amazon says only that one incident
involved AI tools. The AI involvement (Amazon Q Developer, advisory) sits on
March 2, where Business Insider's internal documents name Amazon Q; the
March 5 claims keep the other reading.
"""

from datetime import timedelta

from incidents.models.vocab import (
    ActionClass,
    ActionStatus,
    ActionType,
    ActorKind,
    AIRole,
    AttributionStatus,
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

from .common import date, representative, ticket, utc

MARCH_2_EXTERNAL_ID = "seed:amazon-retail-delivery-times-2026-03-02"
MARCH_5_EXTERNAL_ID = "seed:amazon-retail-orders-outage-2026-03-05"

_AMAZON_CORRECTION_QUOTE = (
    "only one… involved AI tools… an engineer following inaccurate advice that an agent inferred from an "
    "outdated internal wiki, and none involved AI-written code."
)


def _day_event(moment, when, kind, description, source, actor=ActorKind.UNKNOWN, precision=TimePrecision.DAY):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": precision,
        "display_tz": "UTC",
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
    }


_TREND = _day_event(
    "incident-trend-starts",
    representative(2025, 7, 1),
    TimelineKind.CONTEXT,
    'A "trend of incidents" on Amazon.com starts in Q3 2025.',
    "bi_retail",
    precision=TimePrecision.QUARTER,
)
_CORRECTION = _day_event(
    "amazon-correction",
    representative(2026, 3, 11),
    TimelineKind.COMMUNICATION,
    'Amazon publishes "Correcting the Financial Times report about recent Amazon.com service incidents and AI".',
    "amazon_retail_correction",
    ActorKind.HUMAN,
)

_CLAIM_GENAI_BULLET = {
    "claimant": "CNBC and the Financial Times",
    "source": "aihola_retail",
    "stance": Stance.ASSERTS,
    "claimed_cause": "",
    "claimed_ai_role": ClaimedAIRole.CODE_AUTHOR,
    "statement": (
        'The briefing for the deep-dive meeting had a "GenAI-assisted changes" bullet, which was deleted before '
        "the meeting."
    ),
    "quote": "GenAI-assisted changes",
}

_CLAIM_AMAZON_ONE_AI = {
    "claimant": "Amazon",
    "source": "amazon_retail_correction",
    "stance": Stance.CORRECTS,
    "claimed_cause": PrimaryCause.PROCESS_DOCS,
    "claimed_ai_role": ClaimedAIRole.ADVISOR,
    "statement": (
        "Only one of the incidents involved AI tools: an engineer followed inaccurate advice an agent inferred "
        "from an outdated internal wiki. None involved AI-written code, and AWS was not involved."
    ),
    "quote": _AMAZON_CORRECTION_QUOTE,
}

MARCH_2 = {
    "external_id": MARCH_2_EXTERNAL_ID,
    "title": "Amazon.com carts show wrong delivery times (2 March 2026)",
    "summary": (
        "On 2 March 2026 Amazon.com carts showed wrong delivery times, with about 120,000 lost orders and 1.6M "
        'website errors (Business Insider). The internal review names Amazon Q as "one of the primary '
        "contributors\". Amazon's 2026-03-11 correction says only one incident involved AI tools, through an "
        "engineer following inaccurate advice an agent inferred from an outdated internal wiki, and that none "
        "involved AI-written code. Secondaries disagree on whether this or the March 5 outage was the AI-linked one."
    ),
    "severity": Severity.SEV2,
    "status": IncidentStatus.RESOLVED,
    "team": "Retail checkout",
    "owner": "dana",
    "services": ["Amazon.com retail website", "Amazon.com shopping cart", "Amazon Q Developer"],
    "regions": [],
    "tags": ["retail", "ai-agent", "stale-docs", "disputed-attribution"],
    "started_at": representative(2026, 3, 2),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": (
        "Carts showed wrong delivery times; about 120,000 lost orders and 1.6M website errors (Business Insider). "
        "No duration is reported."
    ),
    "primary_cause": PrimaryCause.PROCESS_DOCS,
    "trigger_kind": TriggerKind.MANUAL_OP,
    "trigger_text": (
        "Per Amazon's correction, in the one incident that involved AI tools an engineer followed inaccurate "
        "advice that an agent inferred from an outdated internal wiki. The sources do not describe the change "
        "itself."
    ),
    "harm_level": HarmLevel.EVENT,
    "attribution_status": AttributionStatus.VENDOR_CORRECTED,
    "adopted_cause": PrimaryCause.PROCESS_DOCS,
    "adopted_cause_rationale": (
        'The FT and CNBC (via aihola.com and banandre.com) report a "GenAI-assisted changes" bullet deleted from '
        "the briefing, and the FT (via thedailyscout.com) reports senior sign-off for AI-assisted changes; "
        'Business Insider\'s internal documents call Amazon Q "one of the primary contributors" to this incident. '
        "Amazon's correction of 2026-03-11 says only one incident involved AI tools, through advice an agent "
        "inferred from an outdated internal wiki, and none involved AI-written code. We adopt process_docs: on "
        "both accounts the advice came from stale documentation, and the agent's role is advisory, not code "
        "author. Which March incident was the AI-linked one is disputed between secondaries (Grokipedia: March 2; "
        "banandre.com: March 5); we place it here because the internal review of March 2 names Amazon Q."
    ),
    "sources": [
        "bi_retail",
        "aihola_retail",
        "banandre_retail",
        "dailyscout_retail",
        "grokipedia_retail",
        "amazon_retail_correction",
    ],
    "factors": [ContributingFactor.STALE_DOCUMENTATION, ContributingFactor.AI_ASSISTED_CHANGE],
    "impact_figures": [
        {
            "name": "Lost orders",
            "value": "120000",
            "unit": "orders",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 120,000'; internal documents reported 2026-03-10.",
            "source": "bi_retail",
        },
        {
            "name": "Website errors",
            "value": "1600000",
            "unit": "errors",
            "is_estimate": True,
            "as_of": None,
            "note": "'1.6M'; internal documents reported 2026-03-10.",
            "source": "bi_retail",
        },
    ],
    "timeline": [
        _TREND,
        _day_event(
            "impact-start",
            representative(2026, 3, 2),
            TimelineKind.START,
            "Carts show wrong delivery times (time of day not reported).",
            "bi_retail",
        ),
        _CORRECTION,
    ],
    "claims": [
        {
            "claimant": "Business Insider (Amazon internal review)",
            "source": "bi_retail",
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "The internal review names Amazon Q as one of the primary contributors to the incident.",
            "quote": "one of the primary contributors",
        },
        {
            "claimant": "Grokipedia",
            "source": "grokipedia_retail",
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.ADVISOR,
            "statement": "The March 2 incident was the AI-linked one.",
            "quote": "",
        },
        _CLAIM_GENAI_BULLET,
        {
            "claimant": "Financial Times",
            "source": "dailyscout_retail",
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.CODE_AUTHOR,
            "statement": "AI-assisted changes by junior and mid-level engineers now need a senior engineer's sign-off.",
            "quote": "",
        },
        _CLAIM_AMAZON_ONE_AI,
        {
            "claimant": "Amazon",
            "source": "amazon_retail_correction",
            "stance": Stance.DENIES,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "Reports of new approval requirements for engineers working with AI tools are false.",
            "quote": '"new approval requirements for engineers working with AI tools" … "false"',
        },
    ],
    "ai": [
        {
            "agent_name": "Amazon Q Developer",
            "vendor": "Amazon",
            "role": AIRole.ADVISOR,
            "autonomy_level": "",  # Not stated; the engineer, not the agent, made the change.
            "gate_present": TriState.UNKNOWN,
            "gate_type": GateType.UNKNOWN,
            "gate_bypassed": TriState.UNKNOWN,
            "permissions_held": PermissionScope.UNKNOWN,
            "permissions_inherited": TriState.UNKNOWN,
            "action_taken": (
                "Gave advice inferred from an outdated internal wiki, which an engineer followed (Amazon's "
                'correction). Business Insider\'s internal documents name "Amazon Q".'
            ),
            "action_class": ActionClass.ADVICE,
            "reversible": TriState.UNKNOWN,
            "excessive_functionality": False,
            "excessive_permissions": False,
            "excessive_autonomy": False,
            "evidence": ["amazon_retail_correction", "bi_retail", "grokipedia_retail"],
        }
    ],
    "actions": [
        {
            "title": "Senior sign-off on AI-assisted changes by junior and mid-level engineers",
            "description": (
                "Reported by the FT (via thedailyscout.com). Disputed: Amazon's correction of 2026-03-11 says "
                'reports of "new approval requirements for engineers working with AI tools" are "false".'
            ),
            "action_type": ActionType.PROCESS,
            "priority": Priority.P2,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Retail checkout",
            "due_date": date(2027, 2, 26),
            "completed_at": None,
            "ticket_url": ticket(301),
            "answers_why": "AI-assisted changes reaching production on one engineer's judgement (as reported).",
            "source": "dailyscout_retail",
            "disputed": True,
        },
        {
            "title": "Keep internal wiki pages past their review date out of the assistant's retrieval sources",
            "description": "Proposed by us; not reported by the sources.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "omar",
            "team": "Agent platform",
            "due_date": date(2026, 10, 1),
            "completed_at": None,
            "ticket_url": ticket(302),
            "answers_why": "The agent inferred its advice from an outdated internal wiki (Amazon's correction).",
            "source": None,
            "disputed": False,
        },
    ],
    "coe": None,
}

MARCH_5 = {
    "external_id": MARCH_5_EXTERNAL_ID,
    "title": "Amazon.com outage: North American orders drop 99% (5 March 2026)",
    "summary": (
        "On 5 March 2026, for about 6 hours, North American orders on Amazon.com dropped 99%, with about 6.3M "
        "orders lost (Business Insider). A configuration change was deployed without Modeled Change Management; "
        'the internal review found "No automated pre-deployment validation" and that a "Single authorized '
        'operator could execute a high-blast-radius config change." CNBC counted four Sev-1s that week. Whether '
        "AI played a part is disputed: banandre.com names this as the AI-linked incident, Grokipedia names March 2."
    ),
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Retail checkout",
    "owner": "dana",
    "services": ["Amazon.com retail website", "Amazon.com ordering (North America)"],
    "regions": ["North America (retail)"],
    "tags": ["retail", "config-change", "disputed-attribution"],
    "started_at": representative(2026, 3, 5),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "reported_duration": timedelta(hours=6),
    "reported_duration_source": "bi_retail",
    "customer_impact": (
        "North American orders dropped 99% for about 6 hours; about 6.3M orders lost (Business Insider). Start "
        "and end times of day are not reported."
    ),
    "primary_cause": PrimaryCause.CHANGE_CONFIG,
    "trigger_kind": TriggerKind.CONFIG_PUSH,
    "trigger_text": "A configuration change was deployed without Modeled Change Management (internal review, via BI).",
    "harm_level": HarmLevel.UNCLEAR,
    "attribution_status": AttributionStatus.DISPUTED,
    "adopted_cause": PrimaryCause.CHANGE_CONFIG,
    "adopted_cause_rationale": (
        "Business Insider's internal documents describe a config change deployed without Modeled Change "
        'Management, with "No automated pre-deployment validation" and a "Single authorized operator" able to '
        "run a high-blast-radius change. banandre.com (relaying CNBC and the FT) names March 5 as the AI-linked "
        "incident; Grokipedia names March 2; Amazon's 2026-03-11 correction says only one incident involved AI "
        "tools, through advice from an outdated wiki, and none involved AI-written code. We adopt change_config "
        "from the internal review, which names the change path, and leave the AI's part here disputed."
    ),
    "sources": ["bi_retail", "aihola_retail", "banandre_retail", "grokipedia_retail", "amazon_retail_correction"],
    "factors": [
        ContributingFactor.NO_PREDEPLOY_VALIDATION,
        ContributingFactor.NO_TWO_PERSON_REVIEW,
        ContributingFactor.HIGH_BLAST_RADIUS,
    ],
    "impact_figures": [
        {
            "name": "Drop in North American orders",
            "value": "99",
            "unit": "%",
            "is_estimate": False,
            "as_of": None,
            "note": "Internal documents reported 2026-03-10.",
            "source": "bi_retail",
        },
        {
            "name": "Lost orders",
            "value": "6300000",
            "unit": "orders",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 6.3M'; internal documents reported 2026-03-10.",
            "source": "bi_retail",
        },
        {
            "name": "Sev-1 incidents that week",
            "value": "4",
            "unit": "incidents",
            "is_estimate": False,
            "as_of": None,
            "note": "CNBC, read via aihola.com.",
            "source": "aihola_retail",
        },
    ],
    "timeline": [
        _TREND,
        _day_event(
            "impact-start",
            representative(2026, 3, 5),
            TimelineKind.START,
            "A config change deployed without Modeled Change Management; North American orders drop 99% for "
            "about 6 hours (times of day not reported).",
            "bi_retail",
            ActorKind.HUMAN,
        ),
        _day_event(
            "four-sev1s",
            representative(2026, 3, 5),
            TimelineKind.CONTEXT,
            "The same week (days not reported): four Sev-1 incidents (CNBC).",
            "aihola_retail",
            precision=TimePrecision.MONTH,
        ),
        _day_event(
            "twist-deep-dive",
            representative(2026, 3, 10),
            TimelineKind.COMMUNICATION,
            'Mandatory "This Week in Stores Tech" (TWiST) deep dive; Business Insider publishes the internal '
            "documents.",
            "bi_retail",
            ActorKind.HUMAN,
        ),
        _day_event(
            "reset-announced",
            representative(2026, 3, 10),
            TimelineKind.DECISION,
            '90-day "code safety reset" announced, on 10 or 11 March.',
            "bi_retail",
            ActorKind.HUMAN,
        ),
        _CORRECTION,
    ],
    "claims": [
        {
            "claimant": "Business Insider (Amazon internal review)",
            "source": "bi_retail",
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.CHANGE_CONFIG,
            "claimed_ai_role": "",
            "statement": (
                "A config change was deployed without Modeled Change Management, with no automated pre-deployment "
                "validation, by a single authorized operator."
            ),
            "quote": (
                "No automated pre-deployment validation. Single authorized operator could execute a "
                "high-blast-radius config change."
            ),
        },
        {
            "claimant": "banandre.com",
            "source": "banandre_retail",
            "stance": Stance.ASSERTS,
            "claimed_cause": "",
            "claimed_ai_role": ClaimedAIRole.ADVISOR,
            "statement": "The March 5 outage was the AI-linked incident.",
            "quote": "",
        },
        _CLAIM_GENAI_BULLET,
        {
            **_CLAIM_AMAZON_ONE_AI,
            # Amazon does not say which incident was the AI one, so here the
            # correction asserts no cause for March 5.
            "claimed_cause": "",
            "claimed_ai_role": "",
        },
    ],
    "ai": [],
    "actions": [
        {
            "title": '90-day "code safety reset" on about 335 Tier-1 systems',
            "description": "Reported by Business Insider; announced 10 or 11 March 2026.",
            "action_type": ActionType.PROCESS,
            "priority": Priority.P1,
            "status": ActionStatus.DONE,
            "owner": "dana",
            "team": "Retail checkout",
            "due_date": date(2026, 6, 8),
            "completed_at": utc(2026, 6, 8, 17, 0),
            "ticket_url": ticket(401),
            "answers_why": "A trend of incidents since Q3 2025 on Tier-1 systems.",
            "source": "bi_retail",
            "disputed": False,
        },
        {
            "title": "Two-person review with the change-documentation tool for Tier-1 config changes",
            "description": "Reported by Business Insider.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "omar",
            "team": "Retail checkout",
            "due_date": date(2026, 7, 31),
            "completed_at": None,
            "ticket_url": ticket(402),
            "answers_why": "Whys chain 1, why 2: a single authorized operator could run the change.",
            "source": "bi_retail",
            "disputed": False,
        },
        {
            "title": "Director and VP audits of Tier-1 changes",
            "description": "Reported by Business Insider.",
            "action_type": ActionType.PROCESS,
            "priority": Priority.P2,
            "status": ActionStatus.OPEN,
            "owner": "approver",
            "team": "Retail checkout",
            "due_date": date(2027, 1, 15),
            "completed_at": None,
            "ticket_url": ticket(403),
            "answers_why": "Changes reached production outside Modeled Change Management.",
            "source": "bi_retail",
            "disputed": False,
        },
        {
            "title": '"Controlled friction": deterministic and agentic safeguards on high-blast-radius changes',
            "description": 'Reported by Business Insider: "deterministic and agentic safeguards".',
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Retail checkout",
            "due_date": date(2027, 3, 31),
            "completed_at": None,
            "ticket_url": ticket(404),
            "answers_why": "A high-blast-radius config change could run without any safeguard.",
            "source": "bi_retail",
            "disputed": False,
        },
        {
            "title": "Block config deploys that skip automated pre-deployment validation",
            "description": "Proposed in the draft COE; not reported by the sources.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.OPEN,
            "owner": "omar",
            "team": "Retail checkout",
            "due_date": date(2026, 9, 15),
            "completed_at": None,
            "ticket_url": ticket(405),
            "answers_why": "Whys chain 1, why 3: no automated pre-deployment validation.",
            "source": None,
            "disputed": False,
        },
    ],
}

# A draft: some sections written, the rest still empty.
MARCH_5["coe"] = {
    "authors": ["dana"],
    "owner": "dana",
    "approver": None,
    "status": CoeStatus.DRAFT,
    "reviewed_in_ops_meeting": False,
    "created_at": utc(2026, 3, 12, 14, 0),
    "submitted_at": None,
    "approved_at": None,
    "published_at": None,
    "revision": {"saved_by": "dana", "saved_at": utc(2026, 3, 12, 14, 0), "note": "Seeded: first draft."},
    "whys": [
        {
            "cause": "Configuration change path: a high-blast-radius change could reach production unvalidated",
            "links": [
                "Why did North American orders drop 99%? A configuration change deployed on 5 March broke the "
                "order path (internal review, via Business Insider).",
                "Why did one change reach all of North America? A single authorized operator could execute a "
                "high-blast-radius config change, and it was deployed without Modeled Change Management.",
                "Why was nothing checked before it went out? The deploy path had no automated pre-deployment "
                "validation for this class of config change.",
            ],
        }
    ],
    "sections": {
        "summary": (
            "On 5 March 2026 a configuration change, deployed without Modeled Change Management, cut North "
            "American orders on Amazon.com by 99% for about 6 hours (Business Insider, 2026-03-10)."
        ),
        "impact": (
            "About 6 hours; North American orders down 99%; about 6.3M orders lost (estimate, Business Insider). "
            "The public sources give no start or end time of day, so no time zone can be stated."
        ),
        "timeline_narrative": (
            "Dates only; the sources give no times of day.\n"
            "- Q3 2025: a trend of incidents begins.\n"
            "- 2026-03-02: delivery-time incident (separate incident).\n"
            "- 2026-03-05: this outage, about 6 hours.\n"
            "- 2026-03-10: TWiST deep dive; Business Insider story; code safety reset announced (10 or 11 March).\n"
            "- 2026-03-11: Amazon's correction."
        ),
        "trigger": (
            "A configuration change deployed without Modeled Change Management (internal review, via Business Insider)."
        ),
        "root_cause": (
            'Draft. The internal review: "No automated pre-deployment validation. Single authorized operator could '
            "execute a high-blast-radius config change.\" Whether an AI agent's advice played a part is disputed "
            "(banandre.com says yes; Grokipedia places the AI-linked incident on 2 March; Amazon does not say "
            "which). Still to do: attach the metrics the review relied on."
        ),
    },
}
