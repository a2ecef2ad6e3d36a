"""March 2026: the two Amazon.com retail incidents, March 2 and March 5 (DOMAIN.md 3.3).

Two incidents, not one. The sources give dates only, so starts are day
precision and the March 5 duration ("about 6 h") is a reported duration.
Which of the two was the AI-linked one is itself disputed: Grokipedia says
March 2, banandre.com says March 5, and Amazon says only that one incident
involved AI tools. Our reading places the AI involvement (Amazon Q, advisory
on Amazon's account) on March 2, whose internal review (Business Insider)
names Amazon Q; the March 5 claims keep the other reading.
"""

from datetime import timedelta

from incidents.models.vocab import (
    ActionClass,
    ActionStatus,
    ActionType,
    ActorKind,
    AIRole,
    AttributionStatus,
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

BI = "bi_retail"
AMAZON = "amazon_retail_correction"
MARCH_2_EXTERNAL_ID = "seed:amazon-retail-delivery-times-2026-03-02"
MARCH_5_EXTERNAL_ID = "seed:amazon-retail-orders-outage-2026-03-05"

_AMAZON_CORRECTION_QUOTE = (
    "only one… involved AI tools… an engineer following inaccurate advice that an agent inferred from an "
    "outdated internal wiki, and none involved AI-written code."
)


def _day_event(
    moment, when, kind, description, source, actor=ActorKind.UNKNOWN, precision=TimePrecision.DAY, estimated=False
):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": precision,
        "estimated": estimated,
        "display_tz": "UTC",
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
        "basis": Basis.REPORTED,
    }


_TREND = _day_event(
    "incident-trend-starts",
    dated(2025, 7, 1, TimePrecision.QUARTER),
    TimelineKind.CONTEXT,
    'A "trend of incidents" on Amazon.com starts in Q3 2025.',
    "bi_retail",
    precision=TimePrecision.QUARTER,
)
_CORRECTION = _day_event(
    "amazon-correction",
    dated(2026, 3, 11),
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
    "summary": [
        cited(
            "On 2 March 2026 Amazon.com carts showed wrong delivery times, with about 120,000 lost orders and 1.6M "
            "website errors",
            BI,
        ),
        cited('The internal review names Amazon Q as "one of the primary contributors"', BI),
        cited(
            "Only one incident involved AI tools, through an engineer following inaccurate advice an agent "
            "inferred from an outdated internal wiki, and none involved AI-written code",
            AMAZON,
        ),
        cited("This was the AI-linked incident", "grokipedia_retail"),
        cited("The AI-linked incident was the March 5 outage", "banandre_retail"),
    ],
    "severity": Severity.SEV2,
    "status": IncidentStatus.RESOLVED,
    "team": "Retail checkout",
    "owner": "dana",
    "services": ["Amazon.com retail website", "Amazon.com shopping cart", "Amazon Q"],
    "regions": [],
    "tags": ["retail", "ai-agent", "stale-docs", "disputed-attribution"],
    "started_at": dated(2026, 3, 2),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": [
        cited("Carts showed wrong delivery times; about 120,000 lost orders and 1.6M website errors", BI),
        ours("No duration is reported"),
    ],
    "primary_cause": PrimaryCause.PROCESS_DOCS,
    "trigger_kind": TriggerKind.MANUAL_OP,
    "trigger_text": [
        cited(
            "In the one incident that involved AI tools, an engineer followed inaccurate advice that an agent "
            "inferred from an outdated internal wiki",
            AMAZON,
        ),
        ours(
            "Amazon does not say which incident that was; we place it on March 2, whose internal review names "
            "Amazon Q. The sources do not describe the change itself"
        ),
    ],
    "harm_level": HarmLevel.EVENT,
    "attribution_status": AttributionStatus.VENDOR_CORRECTED,
    "adopted_cause": PrimaryCause.PROCESS_DOCS,
    "adopted_cause_rationale": [
        cited('The internal review calls Amazon Q "one of the primary contributors" to this incident', BI),
        cited('A "GenAI-assisted changes" bullet was deleted from the briefing before the meeting', "aihola_retail"),
        cited(
            "AI-assisted changes by junior and mid-level engineers need a senior engineer's sign-off",
            "dailyscout_retail",
        ),
        cited(
            "Only one incident involved AI tools, through advice an agent inferred from an outdated internal wiki, "
            "and none involved AI-written code",
            AMAZON,
        ),
        ours(
            "Only Amazon's account mentions the wiki; the other sources tie the incidents to AI-assisted changes, "
            "which the claims record as a code-author reading"
        ),
        ours(
            "We adopt process_docs on Amazon's account, the only one that describes how the AI was involved, and "
            "leave the AI's role disputed between advisor (Amazon) and code author (the reports of AI-assisted "
            "changes)"
        ),
        cited("The AI-linked incident was March 2", "grokipedia_retail"),
        cited("It was March 5", "banandre_retail"),
        ours("We place the AI involvement here because the internal review of March 2 names Amazon Q"),
    ],
    "sources": [
        BI,
        "aihola_retail",
        "banandre_retail",
        "dailyscout_retail",
        "grokipedia_retail",
        AMAZON,
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
            "source": BI,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Website errors",
            "value": "1600000",
            "unit": "errors",
            "is_estimate": True,
            "as_of": None,
            "note": "'1.6M'; internal documents reported 2026-03-10.",
            "source": BI,
            "basis": Basis.REPORTED,
        },
    ],
    "timeline": [
        _TREND,
        _day_event(
            "impact-start",
            dated(2026, 3, 2),
            TimelineKind.START,
            "Carts show wrong delivery times (time of day not reported).",
            BI,
        ),
        _CORRECTION,
    ],
    "claims": [
        {
            "claimant": "Business Insider (Amazon internal review)",
            "source": BI,
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
            # Grokipedia names the date, not what the AI did.
            "claimed_ai_role": "",
            "statement": "The March 2 incident was the AI-linked one.",
            "quote": "",
        },
        _CLAIM_GENAI_BULLET,
        {
            "claimant": "Business Insider (via thedailyscout.com)",
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
            "source": AMAZON,
            "stance": Stance.DENIES,
            "claimed_cause": "",
            "claimed_ai_role": "",
            "statement": "Reports of new approval requirements for engineers working with AI tools are false.",
            "quote": '"new approval requirements for engineers working with AI tools" … "false"',
        },
    ],
    "ai": [
        {
            "agent_name": "Amazon Q",
            "formerly": ["Amazon Q Developer"],
            "vendor": "Amazon",
            "role": AIRole.ADVISOR,
            "autonomy_level": "",  # Not stated; the engineer, not the agent, made the change.
            "gate_present": TriState.UNKNOWN,
            "gate_type": GateType.UNKNOWN,
            "gate_bypassed": TriState.UNKNOWN,
            "permissions_held": PermissionScope.UNKNOWN,
            "permissions_inherited": TriState.UNKNOWN,
            "action_taken": "Gave advice inferred from an outdated internal wiki, which an engineer followed.",
            "action_class": ActionClass.ADVICE,
            "reversible": TriState.UNKNOWN,
            "excessive_functionality": False,
            "excessive_permissions": False,
            "excessive_autonomy": False,
            "evidence": [AMAZON, BI, "grokipedia_retail"],
            # Business Insider names the agent for March 2; Amazon describes its part without naming
            # the incident. That both describe this incident is our reading (see the rationale).
            "cited": {"agent_name": BI, "role": AMAZON, "action_taken": AMAZON, "action_class": AMAZON},
            "ours": [],
        }
    ],
    # Every status, owner, due date and completion below is demo workflow, not Amazon's progress.
    "actions": [
        {
            "title": "Senior sign-off on AI-assisted changes by junior and mid-level engineers",
            "description": (
                "Reported by Business Insider (via thedailyscout.com). Disputed: Amazon's correction of 2026-03-11 "
                'says reports of "new approval requirements for engineers working with AI tools" are "false".'
            ),
            "action_type": ActionType.PROCESS,
            "priority": Priority.P2,
            "status": ActionStatus.OPEN,
            "owner": "dana",
            "team": "Retail checkout",
            "due_date": date(2027, 2, 26),
            "completed_at": None,
            "ticket_url": ticket(301),
            "answers_why": "AI-assisted changes by junior and mid-level engineers (as reported).",
            "source": "dailyscout_retail",
            "disputed": True,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Keep internal wiki pages past their review date out of the assistant's retrieval sources",
            "description": "Proposed by us; not reported by the sources.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.VERIFIED,
            "owner": "omar",
            "team": "Agent platform",
            "due_date": date(2026, 10, 1),
            "completed_at": utc(2026, 9, 18, 15, 0),
            "ticket_url": ticket(302),
            "answers_why": "The agent inferred its advice from an outdated internal wiki (Amazon's correction).",
            "source": None,
            "disputed": False,
            "basis": Basis.PROPOSAL,
        },
    ],
    "coe": None,
}

MARCH_5 = {
    "external_id": MARCH_5_EXTERNAL_ID,
    "title": "Amazon.com outage: North American orders drop 99% (5 March 2026)",
    "summary": [
        cited(
            "On 5 March 2026, for about 6 hours, North American orders on Amazon.com dropped 99%, with about 6.3M "
            "orders lost",
            BI,
        ),
        cited(
            "A configuration change was deployed without Modeled Change Management; the internal review found "
            '"No automated pre-deployment validation" and that a "Single authorized operator could execute a '
            'high-blast-radius config change"',
            BI,
        ),
        cited("There were four Sev-1s that week", "aihola_retail"),
        cited("This was the AI-linked incident", "banandre_retail"),
        cited("The AI-linked incident was on 2 March", "grokipedia_retail"),
        ours("Whether AI played a part here is disputed"),
    ],
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Retail checkout",
    "owner": "dana",
    "services": ["Amazon.com retail website", "Amazon.com ordering (North America)"],
    "regions": ["North America (retail)"],
    "tags": ["retail", "config-change", "disputed-attribution"],
    "started_at": dated(2026, 3, 5),
    "time_precision": TimePrecision.DAY,
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "reported_duration": timedelta(hours=6),
    "reported_duration_source": BI,
    "customer_impact": [
        cited("North American orders dropped 99% for about 6 hours; about 6.3M orders lost", BI),
        ours("Start and end times of day are not reported"),
    ],
    "primary_cause": PrimaryCause.CHANGE_CONFIG,
    "trigger_kind": TriggerKind.CONFIG_PUSH,
    "trigger_text": [cited("A configuration change was deployed without Modeled Change Management", BI)],
    "harm_level": HarmLevel.UNCLEAR,
    "attribution_status": AttributionStatus.DISPUTED,
    "adopted_cause": PrimaryCause.CHANGE_CONFIG,
    "adopted_cause_rationale": [
        cited(
            "The internal review describes a config change deployed without Modeled Change Management, with "
            '"No automated pre-deployment validation" and a "Single authorized operator" able to execute a '
            "high-blast-radius config change",
            BI,
        ),
        cited('A "GenAI-assisted changes" bullet was deleted from the briefing before the meeting', "aihola_retail"),
        cited("March 5 was the AI-linked incident", "banandre_retail"),
        cited("It was March 2", "grokipedia_retail"),
        cited(
            "Only one incident involved AI tools, through advice from an outdated wiki, and none involved "
            "AI-written code",
            AMAZON,
        ),
        ours(
            "We adopt change_config from the internal review, which names the change path, and leave the AI's part "
            "here disputed"
        ),
    ],
    "sources": [BI, "aihola_retail", "banandre_retail", "grokipedia_retail", AMAZON],
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
            "source": BI,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Lost orders",
            "value": "6300000",
            "unit": "orders",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 6.3M'; internal documents reported 2026-03-10.",
            "source": BI,
            "basis": Basis.REPORTED,
        },
        {
            "name": "Sev-1 incidents that week",
            "value": "4",
            "unit": "incidents",
            "is_estimate": False,
            "as_of": None,
            "note": "CNBC, read via aihola.com.",
            "source": "aihola_retail",
            "basis": Basis.REPORTED,
        },
    ],
    "timeline": [
        _TREND,
        _day_event(
            "impact-start",
            dated(2026, 3, 5),
            TimelineKind.START,
            "A config change deployed without Modeled Change Management; North American orders drop 99% for "
            "about 6 hours (times of day not reported).",
            BI,
            ActorKind.HUMAN,
        ),
        _day_event(
            "four-sev1s",
            dated(2026, 3, 1, TimePrecision.MONTH),
            TimelineKind.CONTEXT,
            "The week of this outage (days not reported): four Sev-1 incidents (CNBC).",
            "aihola_retail",
            precision=TimePrecision.MONTH,
        ),
        _day_event(
            "twist-deep-dive",
            dated(2026, 3, 10),
            TimelineKind.COMMUNICATION,
            'Mandatory "This Week in Stores Tech" (TWiST) deep dive; Business Insider publishes the internal '
            "documents.",
            BI,
            ActorKind.HUMAN,
        ),
        _day_event(
            "reset-announced",
            dated(2026, 3, 10),
            TimelineKind.DECISION,
            '90-day "code safety reset" announced, on 10 or 11 March.',
            BI,
            ActorKind.HUMAN,
            estimated=True,
        ),
        _CORRECTION,
    ],
    "claims": [
        {
            "claimant": "Business Insider (Amazon internal review)",
            "source": BI,
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.CHANGE_CONFIG,
            "claimed_ai_role": "",
            "statement": (
                "A config change was deployed without Modeled Change Management, with no automated pre-deployment "
                "validation; a single authorized operator could execute a high-blast-radius config change."
            ),
            "formerly": [
                "A config change was deployed without Modeled Change Management, with no automated pre-deployment "
                "validation, by a single authorized operator."
            ],
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
            # banandre.com names the date, not what the AI did.
            "claimed_ai_role": "",
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
    # Every status, owner, due date and completion below is demo workflow, not Amazon's progress.
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
            "completed_at": None,
            "ticket_url": ticket(401),
            "answers_why": "A trend of incidents since Q3 2025.",
            "source": BI,
            "disputed": False,
            "basis": Basis.REPORTED,
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
            "answers_why": "Whys chain 1, why 2: a single authorized operator could execute the change.",
            "source": BI,
            "disputed": False,
            "basis": Basis.REPORTED,
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
            "answers_why": "A change deployed without Modeled Change Management.",
            "source": BI,
            "disputed": False,
            "basis": Basis.REPORTED,
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
            "answers_why": "A single authorized operator could execute a high-blast-radius config change.",
            "source": BI,
            "disputed": False,
            "basis": Basis.REPORTED,
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
            "basis": Basis.PROPOSAL,
        },
    ],
}

# A draft by a demo user: some sections written, the rest still empty.
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
            "cause": [ours("Configuration change path: a high-blast-radius change could reach production unvalidated")],
            "links": [
                [
                    cited(
                        "Why did North American orders drop 99%? A configuration change was deployed without "
                        "Modeled Change Management",
                        BI,
                    ),
                ],
                [
                    cited(
                        "Why could one change reach that far? A single authorized operator could execute a "
                        "high-blast-radius config change",
                        BI,
                    ),
                ],
                [
                    cited(
                        "Why was nothing checked before it went out? There was no automated pre-deployment validation",
                        BI,
                    ),
                ],
            ],
        }
    ],
    "sections": {
        "summary": [
            cited(
                "On 5 March 2026 a configuration change, deployed without Modeled Change Management, cut North "
                "American orders on Amazon.com by 99% for about 6 hours",
                BI,
            ),
        ],
        "impact": [
            cited("About 6 hours; North American orders down 99%; about 6.3M orders lost (an estimate)", BI),
            ours("The public sources give no start or end time of day, so no time zone can be stated"),
        ],
        "timeline_narrative": [
            ours("Dates only; the sources give no times of day"),
            LINE,
            cited("- Q3 2025: a trend of incidents begins", BI),
            LINE,
            cited("- 2026-03-02: delivery-time incident (separate incident)", BI),
            LINE,
            cited("- 2026-03-05: this outage, about 6 hours", BI),
            LINE,
            cited(
                "- 2026-03-10: TWiST deep dive; Business Insider story; code safety reset announced (10 or 11 March)",
                BI,
            ),
            LINE,
            cited("- 2026-03-11: Amazon's correction", AMAZON),
        ],
        "trigger": [cited("A configuration change deployed without Modeled Change Management", BI)],
        "root_cause": [
            ours("Draft"),
            cited(
                'The internal review: "No automated pre-deployment validation. Single authorized operator could '
                'execute a high-blast-radius config change"',
                BI,
            ),
            cited("This was the AI-linked incident", "banandre_retail"),
            cited("The AI-linked incident was on 2 March", "grokipedia_retail"),
            ours(
                "Amazon does not say which incident involved AI, so the AI's part here is disputed. Still to do: "
                "attach the metrics the review relied on"
            ),
        ],
    },
}
