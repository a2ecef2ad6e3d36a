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

from .common import PACIFIC, date, pacific, ticket

EXTERNAL_ID = "seed:aws-us-east-1-dynamodb-dns-2025-10"

_CONVERTED = " (time from a markdown conversion of the AWS summary or blogs quoting it)"


def _event(moment, when, kind, description, source, actor=ActorKind.UNKNOWN):
    return {
        "moment": moment,
        "occurred_at": when,
        "precision": TimePrecision.MINUTE,
        "display_tz": PACIFIC,
        "kind": kind,
        "description": description,
        "actor_kind": actor,
        "source": source,
    }


INCIDENT = {
    "external_id": EXTERNAL_ID,
    "title": "AWS us-east-1 outage: empty DynamoDB DNS record and cascading EC2 and NLB failures",
    "summary": (
        "From 11:48 PM PDT on 19 October to 2:20 PM PDT on 20 October 2025, a latent race condition in "
        "DynamoDB's DNS management automation left the regional endpoint with an empty DNS record that the "
        "automation did not repair. DynamoDB API errors lasted until 2:40 AM; EC2's DropletWorkflow Manager "
        "then entered congestive collapse (launch failures until 10:36 AM), and Network Load Balancer health "
        "checks flapped (connection errors 5:30 AM to 2:09 PM). Press reports counted more than 1,000 apps and "
        "sites affected."
    ),
    "severity": Severity.SEV1,
    "status": IncidentStatus.RESOLVED,
    "team": "Database platform",
    "owner": "omar",
    "services": ["Amazon DynamoDB", "Amazon EC2", "Network Load Balancer (NLB)", "Amazon Redshift"],
    "regions": ["us-east-1"],
    "tags": ["dns", "automation", "metastable-failure"],
    "started_at": pacific(2025, 10, 19, 23, 48),
    "time_precision": TimePrecision.MINUTE,
    # AWS's summary gives no detection time, only when the cause was found.
    "detected_at": None,
    "mitigated_at": pacific(2025, 10, 20, 2, 25),
    "resolved_at": pacific(2025, 10, 20, 14, 20),
    "reported_duration": None,
    "reported_duration_source": None,
    "customer_impact": (
        "AWS impact periods (PDT): DynamoDB API errors 11:48 PM to 2:40 AM; EC2 launch failures 2:25 AM to "
        "10:36 AM, with new instances having connectivity problems until 1:50 PM; NLB connection errors 5:30 AM "
        "to 2:09 PM; Redshift restored 21 October 4:05 AM (time from a conversion) (AWS summary). More than "
        "1,000 apps and sites affected and over 11M Downdetector reports (BBC, via a mirror); about 15 hours "
        "and hundreds of companies (Bloomberg, via ndtvprofit.com). Named: Snapchat, Reddit, Fortnite, Roblox, "
        "Coinbase, Robinhood, Venmo, Ring (press); Delta and United (evrimagaci.org, summarising BBC and "
        "Reuters; heraldtimes.org)."
    ),
    "primary_cause": PrimaryCause.AUTOMATION_DEFECT,
    "trigger_kind": TriggerKind.CONFIG_PUSH,
    "trigger_text": (
        "A delayed DNS Enactor applied an old DNS plan; another Enactor's clean-up then deleted that plan along "
        "with all the IP addresses of the regional endpoint (AWS summary)."
    ),
    "harm_level": HarmLevel.NONE,
    "attribution_status": AttributionStatus.UNDISPUTED,
    "adopted_cause": "",
    "adopted_cause_rationale": "",
    "sources": [
        "aws_101925",
        "ppcland_status",
        "bbc_us_east_1",
        "ndtvprofit_bloomberg",
        "evrimagaci_airlines",
        "heraldtimes_airlines",
        "downdetector",
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
            "value": "6500000",
            "unit": "reports",
            "is_estimate": False,
            "as_of": None,
            "note": "An earlier count in the day; time of day and relaying outlet not recorded.",
            "source": "downdetector",
        },
        {
            "name": "Downdetector reports",
            "value": "11000000",
            "unit": "reports",
            "is_estimate": True,
            "as_of": None,
            "note": "'Over 11M'; time of day not recorded.",
            "source": "bbc_us_east_1",
        },
        {
            "name": "Downdetector reports",
            "value": "16000000",
            "unit": "reports",
            "is_estimate": False,
            "as_of": None,
            "note": "A later count in the day; time of day and relaying outlet not recorded.",
            "source": "downdetector",
        },
        {
            "name": "Apps and sites affected",
            "value": "1000",
            "unit": "apps and sites",
            "is_estimate": True,
            "as_of": None,
            "note": "'More than 1,000'.",
            "source": "bbc_us_east_1",
        },
        {
            "name": "Reported outage duration",
            "value": "15",
            "unit": "hours",
            "is_estimate": True,
            "as_of": None,
            "note": "'About 15 hours'; AWS's own span is 11:48 PM to 2:20 PM PDT, about 14.5 hours.",
            "source": "ndtvprofit_bloomberg",
        },
    ],
    "timeline": [
        _event(
            "impact-start",
            pacific(2025, 10, 19, 23, 48),
            TimelineKind.START,
            "The DynamoDB regional endpoint's DNS record is empty; DynamoDB API errors begin.",
            "aws_101925",
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
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "partial-mitigation",
            pacific(2025, 10, 20, 1, 15),
            TimelineKind.MITIGATION,
            "Partial mitigation in place" + _CONVERTED + ".",
            "aws_101925",
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
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "ec2-launch-failures-begin",
            pacific(2025, 10, 20, 2, 25),
            TimelineKind.START,
            "EC2 instance launch failures begin (DropletWorkflow Manager, DWFM).",
            "aws_101925",
            ActorKind.AUTOMATION,
        ),
        _event(
            "dynamodb-recovered",
            pacific(2025, 10, 20, 2, 40),
            TimelineKind.MITIGATION,
            "DynamoDB API errors end; DynamoDB recovered.",
            "aws_101925",
            ActorKind.UNKNOWN,
        ),
        _event(
            "dwfm-throttle-restart",
            pacific(2025, 10, 20, 4, 14),
            TimelineKind.MITIGATION,
            "Engineers throttle incoming work and restart DWFM hosts.",
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "dwfm-leases-restored",
            pacific(2025, 10, 20, 5, 28),
            TimelineKind.MITIGATION,
            "DWFM leases restored" + _CONVERTED + ".",
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "nlb-errors-begin",
            pacific(2025, 10, 20, 5, 30),
            TimelineKind.START,
            "Network Load Balancer health checks flap; NLB connection errors begin.",
            "aws_101925",
            ActorKind.AUTOMATION,
        ),
        _event(
            "nlb-failover-disabled",
            pacific(2025, 10, 20, 9, 36),
            TimelineKind.MITIGATION,
            "NLB automatic health-check failover disabled" + _CONVERTED + ".",
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "ec2-launches-succeed",
            pacific(2025, 10, 20, 10, 37),
            TimelineKind.MITIGATION,
            "EC2 launches succeed again.",
            "aws_101925",
            ActorKind.UNKNOWN,
        ),
        _event(
            "ec2-fully-recovered",
            pacific(2025, 10, 20, 13, 50),
            TimelineKind.MITIGATION,
            "EC2 fully recovered; new instances' connectivity problems end.",
            "aws_101925",
            ActorKind.UNKNOWN,
        ),
        _event(
            "nlb-failover-reenabled",
            pacific(2025, 10, 20, 14, 9),
            TimelineKind.MITIGATION,
            "NLB automatic failover re-enabled; NLB connection errors end" + _CONVERTED + ".",
            "aws_101925",
            ActorKind.HUMAN,
        ),
        _event(
            "all-recovered",
            pacific(2025, 10, 20, 14, 20),
            TimelineKind.RESOLUTION,
            "Event ends: all AWS services recovered (AWS summary).",
            "aws_101925",
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
            "aws_101925",
            ActorKind.UNKNOWN,
        ),
    ],
    "claims": [
        {
            "claimant": "AWS",
            "source": "aws_101925",
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
            "source": "aws_101925",
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
            "due_date": date(2025, 10, 31),
            "completed_at": None,
            "ticket_url": ticket(201),
            "answers_why": "The DNS automation's race condition could empty a live endpoint record.",
            "source": "aws_101925",
            "disputed": False,
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
            "source": "aws_101925",
            "disputed": False,
        },
        {
            "title": "Add a velocity control mechanism to NLB health-check failover",
            "description": "Reported by AWS: limit how fast NLB removes capacity when health checks fail.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "approver",
            "team": "Database platform",
            "due_date": date(2026, 8, 31),
            "completed_at": None,
            "ticket_url": ticket(203),
            "answers_why": "Flapping health checks removed healthy capacity with no rate limit.",
            "source": "aws_101925",
            "disputed": False,
        },
        {
            "title": "Build a DWFM recovery test suite",
            "description": "Reported by AWS, since DWFM had no established operational recovery procedure.",
            "action_type": ActionType.MITIGATE,
            "priority": Priority.P1,
            "status": ActionStatus.OPEN,
            "owner": "omar",
            "team": "Database platform",
            "due_date": date(2027, 4, 30),
            "completed_at": None,
            "ticket_url": ticket(204),
            "answers_why": "No established operational recovery procedure for DWFM's congestive collapse.",
            "source": "aws_101925",
            "disputed": False,
        },
        {
            "title": "Throttle EC2 data propagation by queue size",
            "description": "Reported by AWS.",
            "action_type": ActionType.PREVENT,
            "priority": Priority.P2,
            "status": ActionStatus.IN_PROGRESS,
            "owner": "approver",
            "team": "Database platform",
            "due_date": date(2026, 10, 30),
            "completed_at": None,
            "ticket_url": ticket(205),
            "answers_why": "A backlog of work pushed DWFM into congestive collapse.",
            "source": "aws_101925",
            "disputed": False,
        },
    ],
    "coe": None,
}
