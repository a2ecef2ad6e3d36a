"""October 19-20 2025: the AWS us-east-1 outage (DynamoDB DNS) (DOMAIN.md 3.2).

AWS states its times in PDT; they are stored as aware datetimes with
display_tz America/Los_Angeles. Where AWS's status page (per ppcland.com) and
AWS's later summary disagree, both events are kept under one `moment`.
Times marked "(time from a conversion)" come from a markdown conversion of the
summary or from blogs quoting it, not from the page as we read it.
"""

from incidents.models.vocab import (
    ActionStatus,
    ActionType,
    ActorKind,
    AttributionStatus,
    Basis,
    ContributingFactor,
    HarmLevel,
    IncidentStatus,
    PrimaryCause,
    Priority,
    Severity,
    Stance,
    TimelineKind,
    TimePrecision,
    TriggerKind,
)

from .common import PACIFIC, cited, date, ours, pacific, ticket

AWS = "aws_101925"

EXTERNAL_ID = "seed:aws-us-east-1-dynamodb-dns-2025-10"

_CONVERTED = " (time from a markdown conversion of the AWS summary or blogs quoting it)"


def _event(moment, when, kind, description, source, actor=ActorKind.UNKNOWN):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": TimePrecision.MINUTE,
        "estimated": False,
        "display_tz": PACIFIC,
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
        "basis": Basis.REPORTED,
    }


INCIDENT = {
    "external_id": EXTERNAL_ID,
    "title": "AWS us-east-1 outage: empty DynamoDB DNS record and cascading EC2 and NLB failures",
    "summary": [
        cited(
            "From 11:48 PM PDT on 19 October to 2:20 PM PDT on 20 October 2025, a latent race condition in "
            "DynamoDB's DNS management automation left the regional endpoint with an empty DNS record that the "
            "automation failed to repair",
            AWS,
        ),
        cited(
            "DynamoDB API errors lasted until 2:40 AM; EC2's DropletWorkflow Manager then entered congestive "
            "collapse (launch failures until 10:36 AM), and Network Load Balancer health checks flapped "
            "(connection errors 5:30 AM to 2:09 PM)",
            AWS,
        ),
        cited("More than 1,000 apps and sites were affected", "bbc_us_east_1"),
    ],
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Database platform",
    "owner": "omar",
    "services": ["Amazon DynamoDB", "Amazon EC2", "Network Load Balancer (NLB)", "Amazon Redshift"],
    "regions": ["us-east-1"],
    "tags": ["dns", "automation", "metastable-failure"],
    "started_at": pacific(2025, 10, 19, 23, 48),
    "time_precision": TimePrecision.MINUTE,
    # AWS's summary gives no detection time, only when the cause was found, and no single
    # mitigation: DNS was restored at 2:25 AM, when EC2's launch failures began, and NLB's errors
    # began after it. The timeline keeps each step.
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": pacific(2025, 10, 20, 14, 20),
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": [
        cited(
            "Impact periods (PDT): DynamoDB API errors 11:48 PM to 2:40 AM; EC2 launch failures 2:25 AM to "
            "10:36 AM, with new instances having connectivity problems until 1:50 PM; NLB connection errors "
            "5:30 AM to 2:09 PM; Redshift restored on 21 October at 4:05 AM (a time from a markdown conversion "
            "of the summary or blogs quoting it)",
            AWS,
        ),
        cited("More than 1,000 apps and sites affected, and over 11M Downdetector reports", "bbc_us_east_1"),
        cited("About 15 hours, and hundreds of companies", "ndtvprofit_bloomberg"),
        cited("Delta and United were among them", "evrimagaci_airlines", "heraldtimes_airlines"),
        ours(
            "Other companies named in the press coverage, which our notes do not tie to one outlet: Snapchat, "
            "Reddit, Fortnite, Roblox, Coinbase, Robinhood, Venmo, Ring"
        ),
    ],
    "primary_cause": PrimaryCause.AUTOMATION_DEFECT,
    "trigger_kind": TriggerKind.CONFIG_PUSH,
    "trigger_text": [
        cited(
            "A delayed DNS Enactor applied an old DNS plan; another Enactor's clean-up then deleted that plan "
            "along with all the IP addresses of the regional endpoint",
            AWS,
        ),
    ],
    "harm_level": HarmLevel.NONE,
    "attribution_status": AttributionStatus.UNDISPUTED,
    "adopted_cause": "",
    "adopted_cause_rationale": [],
    "sources": [
        AWS,
        "ppcland_status",
        "bbc_us_east_1",
        "ndtvprofit_bloomberg",
        "evrimagaci_airlines",
        "heraldtimes_airlines",
    ],
    "factors": [
        ContributingFactor.LATENT_BUG,
        ContributingFactor.CONCURRENCY_RACE,
        ContributingFactor.NO_RECOVERY_RUNBOOK,
        ContributingFactor.NO_RATE_LIMIT,
        ContributingFactor.REGIONAL_CONCENTRATION,
    ],
    "impact_figures": [
        # Report counts changed over the day; each is kept with its source.
        # Our notes record no time of day for any of them, so as_of is empty.
        {
            "name": "Downdetector reports",
            "value": "11000000",
            "unit": "reports",
            "is_estimate": True,
            "as_of": None,
            "note": "'Over 11M'; time of day not recorded.",
            "source": "bbc_us_east_1",
            "basis": Basis.REPORTED,
        },
        {
            "name": "Apps and sites affected",
            "value": "1000",
            "unit": "apps and sites",
            "is_estimate": True,
            "as_of": None,
            "note": "'More than 1,000'.",
            "source": "bbc_us_east_1",
            "basis": Basis.REPORTED,
        },
        {
            "name": "Reported outage duration",
            "value": "15",
            "unit": "hours",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 15 hours'; AWS's own span is 11:48 PM to 2:20 PM PDT, about 14.5 hours.",
            "source": "ndtvprofit_bloomberg",
            "basis": Basis.REPORTED,
        },
    ],
    "timeline": [
        _event(
            "impact-start",
            pacific(2025, 10, 19, 23, 48),
            TimelineKind.START,
            "The DynamoDB regional endpoint's DNS record is empty; DynamoDB API errors begin.",
            AWS,
            ActorKind.AUTOMATION,
        ),
        # Conflicting times, kept side by side under one moment.
        _event(
            "cause-identified",
            pacific(2025, 10, 20, 0, 26),
            TimelineKind.CAUSE_IDENTIFIED,
            "AWS status page: root cause identified (status-page update, as reported by ppcland.com).",
            "ppcland_status",
            ActorKind.HUMAN,
        ),
        _event(
            "cause-identified",
            pacific(2025, 10, 20, 0, 38),
            TimelineKind.CAUSE_IDENTIFIED,
            "Cause identified (AWS summary).",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "partial-mitigation",
            pacific(2025, 10, 20, 1, 15),
            TimelineKind.MITIGATION,
            "Partial mitigation in place" + _CONVERTED + ".",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "dns-restored",
            pacific(2025, 10, 20, 2, 24),
            TimelineKind.MITIGATION,
            "AWS status page: DNS issue fixed (status-page update, as reported by ppcland.com).",
            "ppcland_status",
            ActorKind.HUMAN,
        ),
        _event(
            "dns-restored",
            pacific(2025, 10, 20, 2, 25),
            TimelineKind.MITIGATION,
            "DynamoDB DNS information restored (AWS summary).",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "ec2-launch-failures-begin",
            pacific(2025, 10, 20, 2, 25),
            TimelineKind.START,
            "EC2 instance launch failures begin (DropletWorkflow Manager, DWFM).",
            AWS,
            ActorKind.AUTOMATION,
        ),
        _event(
            "dynamodb-recovered",
            pacific(2025, 10, 20, 2, 40),
            TimelineKind.MITIGATION,
            "DynamoDB API errors end; DynamoDB recovered.",
            AWS,
            ActorKind.UNKNOWN,
        ),
        _event(
            "dwfm-throttle-restart",
            pacific(2025, 10, 20, 4, 14),
            TimelineKind.MITIGATION,
            "Engineers throttle incoming work and restart DWFM hosts.",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "dwfm-leases-restored",
            pacific(2025, 10, 20, 5, 28),
            TimelineKind.MITIGATION,
            "DWFM leases restored" + _CONVERTED + ".",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "nlb-errors-begin",
            pacific(2025, 10, 20, 5, 30),
            TimelineKind.START,
            "Network Load Balancer health checks flap; NLB connection errors begin.",
            AWS,
            ActorKind.AUTOMATION,
        ),
        _event(
            "nlb-failover-disabled",
            pacific(2025, 10, 20, 9, 36),
            TimelineKind.MITIGATION,
            "NLB automatic health-check failover disabled" + _CONVERTED + ".",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "ec2-launches-succeed",
            pacific(2025, 10, 20, 10, 37),
            TimelineKind.MITIGATION,
            "EC2 launches succeed again.",
            AWS,
            ActorKind.UNKNOWN,
        ),
        _event(
            "ec2-fully-recovered",
            pacific(2025, 10, 20, 13, 50),
            TimelineKind.MITIGATION,
            "EC2 fully recovered; new instances' connectivity problems end.",
            AWS,
            ActorKind.UNKNOWN,
        ),
        _event(
            "nlb-failover-reenabled",
            pacific(2025, 10, 20, 14, 9),
            TimelineKind.MITIGATION,
            "NLB automatic failover re-enabled; NLB connection errors end" + _CONVERTED + ".",
            AWS,
            ActorKind.HUMAN,
        ),
        _event(
            "all-recovered",
            pacific(2025, 10, 20, 14, 20),
            TimelineKind.RESOLUTION,
            "Event ends (AWS summary).",
            AWS,
            ActorKind.UNKNOWN,
        ),
        _event(
            "all-recovered",
            pacific(2025, 10, 20, 15, 1),
            TimelineKind.RESOLUTION,
            "AWS status page: all services recovered (status-page update, as reported by ppcland.com).",
            "ppcland_status",
            ActorKind.UNKNOWN,
        ),
        _event(
            "redshift-restored",
            pacific(2025, 10, 21, 4, 5),
            TimelineKind.RESOLUTION,
            "Redshift restored" + _CONVERTED + ".",
            AWS,
            ActorKind.UNKNOWN,
        ),
    ],
    "claims": [
        {
            "claimant": "AWS",
            "source": AWS,
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.AUTOMATION_DEFECT,
            "claimed_ai_role": "",
            "statement": (
                "A latent race condition in DynamoDB's DNS management automation left the regional endpoint "
                "with an empty DNS record, which the automation did not repair."
            ),
            "quote": (
                "a latent race condition in the DynamoDB DNS management system that resulted in an incorrect "
                "empty DNS record for the service's regional endpoint… that the automation failed to repair"
            ),
        },
        {
            "claimant": "AWS",
            "source": AWS,
            "stance": Stance.ASSERTS,
            "claimed_cause": PrimaryCause.CAPACITY_OVERLOAD,
            "claimed_ai_role": "",
            "statement": (
                "After DynamoDB recovered, EC2's DropletWorkflow Manager went into congestive collapse, and "
                "there was no established procedure to recover it."
            ),
            "quote": '"entered a state of congestive collapse"; "no established operational recovery procedure"',
        },
    ],
    "ai": [],
    # Every status, owner and due date below is demo workflow, not AWS's progress.
    "actions": [
        {
            "title": "Disable the DynamoDB DNS Planner and DNS Enactor automation worldwide",
            "description": (
                'AWS: "We have already disabled the DynamoDB DNS Planner and the DNS Enactor automation '
                'worldwide." The sources give no completion date.'
            ),
            "action_type": ActionType.MITIGATE,
            "priority": Priority.P0,
            "status": ActionStatus.DONE,
            "owner": "omar",
            "team": "Database platform",
            "due_date": None,
            "completed_at": None,
            "ticket_url": ticket(201),
            "answers_why": "The DNS automation's race condition left the endpoint's record empty.",
            "source": AWS,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Fix the DNS Enactor race condition and add plan protections before re-enabling the automation",
            "description": "Reported by AWS as the condition for turning the automation back on.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P0,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "omar",
            "team": "Database platform",
            "due_date": date(2027, 2, 26),
            "completed_at": None,
            "ticket_url": ticket(202),
            "answers_why": "Latent race between a delayed Enactor and another Enactor's clean-up.",
            "source": AWS,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Add a velocity control mechanism to NLB health-check failover",
            "description": 'Reported by AWS: an NLB "velocity control mechanism".',
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "approver",
            "team": "Database platform",
            "due_date": date(2026, 8, 31),
            "completed_at": None,
            "ticket_url": ticket(203),
            "answers_why": "NLB health checks flapped.",
            "source": AWS,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Build a DWFM recovery test suite",
            "description": "Reported by AWS: a DWFM recovery test suite.",
            "action_type": ActionType.MITIGATE,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "omar",
            "team": "Database platform",
            "due_date": date(2027, 4, 30),
            "completed_at": None,
            "ticket_url": ticket(204),
            "answers_why": "No established operational recovery procedure for DWFM's congestive collapse.",
            "source": AWS,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
        {
            "title": "Throttle EC2 data propagation by queue size",
            "description": "Reported by AWS: queue-size-based throttling of EC2 data propagation.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P2,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "approver",
            "team": "Database platform",
            "due_date": date(2026, 10, 30),
            "completed_at": None,
            "ticket_url": ticket(205),
            "answers_why": "DWFM's congestive collapse.",
            "source": AWS,
            "disputed": False,
            "basis": Basis.REPORTED,
        },
    ],
    "coe": None,
}
