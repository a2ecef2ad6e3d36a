"""The controlled vocabularies of shared/DOMAIN.md section 2.5.

Every list lives here once, as TextChoices, so the admin, the forms, the
filters and the API all speak the same words.
"""

from django.db import models


class Severity(models.TextChoices):
    SEV1 = "SEV1", "SEV1 (critical)"
    SEV2 = "SEV2", "SEV2 (major)"
    SEV3 = "SEV3", "SEV3 (minor)"
    SEV4 = "SEV4", "SEV4 (low)"


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class PrimaryCause(models.TextChoices):
    # Deliberately no "human error": a person's action is a trigger, and the
    # cause is the system or control that let it do harm (DOMAIN.md 1.4).
    CHANGE_CONFIG = "change_config", "Configuration change"
    CHANGE_CODE = "change_code", "Code change"
    AUTOMATION_DEFECT = "automation_defect", "Automation defect"
    CAPACITY_OVERLOAD = "capacity_overload", "Capacity / overload (incl. retry or metastable collapse)"
    DEPENDENCY_FAILURE = "dependency_failure", "Dependency failure"
    ACCESS_CONTROL = "access_control", "Access control"
    DATA_INTEGRITY = "data_integrity", "Data integrity"
    HARDWARE_POWER = "hardware_power", "Hardware / power"
    TIME_CLOCK = "time_clock", "Time / clock"
    SECURITY_ATTACK = "security_attack", "Security attack"
    PROCESS_DOCS = "process_docs", "Process / documentation (stale runbook or wiki)"
    UNDETERMINED = "undetermined", "Undetermined"


class TriggerKind(models.TextChoices):
    DEPLOY = "deploy", "Deploy"
    CONFIG_PUSH = "config_push", "Config push"
    TRAFFIC = "traffic", "Traffic"
    MANUAL_OP = "manual_op", "Manual operation"
    AGENT_ACTION = "agent_action", "Agent action"
    EXTERNAL = "external", "External"


class ContributingFactor(models.TextChoices):
    NO_TWO_PERSON_REVIEW = "no_two_person_review", "No two-person review"
    REVIEW_BYPASSED = "review_bypassed", "Review bypassed"
    EXCESSIVE_PERMISSIONS = "excessive_permissions", "Excessive permissions"
    NO_ENV_SEPARATION = "no_env_separation", "No environment separation"
    NO_PREDEPLOY_VALIDATION = "no_predeploy_validation", "No pre-deploy validation"
    HIGH_BLAST_RADIUS = "high_blast_radius", "High blast radius"
    NO_RATE_LIMIT = "no_rate_limit", "No rate limit"
    RETRY_STORM = "retry_storm", "Retry storm"
    NO_RECOVERY_RUNBOOK = "no_recovery_runbook", "No recovery runbook"
    DETECTION_GAP = "detection_gap", "Detection gap"
    STALE_DOCUMENTATION = "stale_documentation", "Stale documentation"
    LATENT_BUG = "latent_bug", "Latent bug"
    CONCURRENCY_RACE = "concurrency_race", "Concurrency race"
    REGIONAL_CONCENTRATION = "regional_concentration", "Regional concentration"
    AI_ASSISTED_CHANGE = "ai_assisted_change", "AI-assisted change"
    AGENT_MISREPORTED_STATE = "agent_misreported_state", "Agent misreported state"


class HarmLevel(models.TextChoices):
    # CSETv1 "AI Harm Level" (DOMAIN.md 2.1); independent of severity.
    NONE = "none", "None"
    NEAR_MISS = "near_miss", "AI tangible harm near-miss"
    ISSUE = "issue", "AI tangible harm issue"
    EVENT = "event", "AI tangible harm event"
    UNCLEAR = "unclear", "Unclear"


class Basis(models.TextChoices):
    # Whose statement a record is: every fact is either reported (its source says it; for a team's
    # own incident, its responders recorded it) or ours, and pages, API and exports show which.
    REPORTED = "reported", "Reported"
    READING = "reading", "Our reading"
    CLASSIFICATION = "classification", "Our classification"
    PROPOSAL = "proposal", "Our proposal"
    DEMO = "demo", "Demo value"


class TimePrecision(models.TextChoices):
    # Sources often give only "mid-December": store how exact a time is
    # rather than inventing minutes nobody reported.
    MINUTE = "minute", "To the minute"
    HOUR = "hour", "To the hour"
    DAY = "day", "To the day"
    MONTH = "month", "To the month"
    QUARTER = "quarter", "To the quarter"


class TimelineKind(models.TextChoices):
    START = "start", "Impact starts"
    DETECTION = "detection", "Detection"
    ENGAGEMENT = "engagement", "Engagement"
    CAUSE_IDENTIFIED = "cause_identified", "Cause identified"
    MITIGATION = "mitigation", "Mitigation"
    RESOLUTION = "resolution", "Resolution"
    COMMUNICATION = "communication", "Communication"
    AGENT_ACTION = "agent_action", "Agent action"
    DECISION = "decision", "Decision"
    CONTEXT = "context", "Context"


class ActorKind(models.TextChoices):
    HUMAN = "human", "Human"
    AI_AGENT = "ai_agent", "AI agent"
    AUTOMATION = "automation", "Automation"
    UNKNOWN = "unknown", "Unknown"


class AIRole(models.TextChoices):
    ADVISOR = "advisor", "Advisor"
    CODE_AUTHOR = "code_author", "Code author"
    EXECUTOR = "executor", "Executor"


class CsetAutonomy(models.TextChoices):
    # CSETv1 field 7.5. Note that 1 is the MOST autonomous.
    AUTONOMY1 = "Autonomy1", "Autonomy1: operates independently, no human oversight"
    AUTONOMY2 = "Autonomy2", "Autonomy2: human on the loop, can observe and override"
    AUTONOMY3 = "Autonomy3", "Autonomy3: human in the loop, actively chooses to proceed"


class AutonomyLevel(models.TextChoices):
    # Feng, McDonald & Zhang (arXiv 2506.12469): named by the user's role.
    L1 = "L1", "L1 Operator"
    L2 = "L2", "L2 Collaborator"
    L3 = "L3", "L3 Consultant"
    L4 = "L4", "L4 Approver"
    L5 = "L5", "L5 Observer"

    @property
    def cset(self) -> "CsetAutonomy":
        return AUTONOMY_TO_CSET[self]


# The stored mapping to CSET. L1-L3 keep a human choosing every step
# (in the loop). At L4 the agent acts alone except for actions it judges
# high-risk, so for most of what it does the human is only on the loop. At L5
# the user can watch but approves nothing: the agent operates independently.
AUTONOMY_TO_CSET = {
    AutonomyLevel.L1: CsetAutonomy.AUTONOMY3,
    AutonomyLevel.L2: CsetAutonomy.AUTONOMY3,
    AutonomyLevel.L3: CsetAutonomy.AUTONOMY3,
    AutonomyLevel.L4: CsetAutonomy.AUTONOMY2,
    AutonomyLevel.L5: CsetAutonomy.AUTONOMY1,
}


class TriState(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class GateType(models.TextChoices):
    PER_ACTION = "per_action", "Per action"
    PLAN = "plan", "Plan approval"
    TWO_PERSON = "two_person", "Two-person"
    NONE = "none", "None"
    UNKNOWN = "unknown", "Unknown"


class PermissionScope(models.TextChoices):
    READ_ONLY = "read_only", "Read only"
    WRITE_NONPROD = "write_nonprod", "Write non-production"
    WRITE_PROD = "write_prod", "Write production"
    ADMIN = "admin", "Admin"
    UNKNOWN = "unknown", "Unknown"


class ActionClass(models.TextChoices):
    DELETE_RECREATE = "delete_recreate", "Delete and recreate"
    DESTRUCTIVE_SQL = "destructive_sql", "Destructive SQL"
    CONFIG_CHANGE = "config_change", "Config change"
    CODE_CHANGE = "code_change", "Code change"
    ADVICE = "advice", "Advice"


class SourceKind(models.TextChoices):
    VENDOR_PRIMARY = "vendor_primary", "Vendor (primary)"
    PRESS = "press", "Press"
    AFFECTED_PARTY = "affected_party", "Affected party"
    ANALYST = "analyst", "Analyst"


class Stance(models.TextChoices):
    ASSERTS = "asserts", "Asserts"
    DENIES = "denies", "Denies"
    CORRECTS = "corrects", "Corrects"


class ClaimedAIRole(models.TextChoices):
    # A claim may say the AI played no part at all, which AIRole cannot say.
    NONE = "none", "No AI role"
    ADVISOR = AIRole.ADVISOR.value, AIRole.ADVISOR.label
    CODE_AUTHOR = AIRole.CODE_AUTHOR.value, AIRole.CODE_AUTHOR.label
    EXECUTOR = AIRole.EXECUTOR.value, AIRole.EXECUTOR.label


class AttributionStatus(models.TextChoices):
    UNDISPUTED = "undisputed", "Undisputed"
    DISPUTED = "disputed", "Disputed"
    VENDOR_CORRECTED = "vendor_corrected", "Vendor corrected"


class CoeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"


class ActionType(models.TextChoices):
    MITIGATE = "mitigate", "Mitigate"
    PREVENT = "prevent", "Prevent"
    DETECT = "detect", "Detect"
    PROCESS = "process", "Process"


class Priority(models.TextChoices):
    P0 = "P0", "P0"
    P1 = "P1", "P1"
    P2 = "P2", "P2"
    P3 = "P3", "P3"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"
    VERIFIED = "verified", "Verified effective"


# Follow-ups are chased until one of these, not until the incident closes.
ACTION_STATUSES_CLOSED = (ActionStatus.DONE, ActionStatus.WONT_DO, ActionStatus.VERIFIED)
ACTION_STATUSES_OPEN = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class ControlStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    RETIRED = "retired", "Retired"


class ReminderKind(models.TextChoices):
    DIGEST = "digest", "Owner digest"
    ESCALATION = "escalation", "Escalation"
    COE_OVERDUE = "coe_overdue", "COE not approved"
    LEADERSHIP_WEEKLY = "leadership_weekly", "Leadership weekly summary"
    # The review workflow's steps, each told once to the people concerned.
    COE_SUBMITTED = "coe_submitted", "COE submitted for review"
    COE_COMMENTED = "coe_commented", "COE review comment"
    COE_RETURNED = "coe_returned", "COE sent back"
    COE_APPROVED = "coe_approved", "COE approved"
    COE_REOPENED = "coe_reopened", "COE reopened"
    COE_PUBLISHED = "coe_published", "COE published"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class ReminderState(models.TextChoices):
    # claimed: due and recorded, waiting for its next attempt (next_attempt_at);
    # queued: one delivery task is in the broker for it; sending: one worker
    # owns it now. Both hold a lease: when it runs out (a lost task, a killed
    # worker) the row is claimed again. sent and failed are final.
    CLAIMED = "claimed", "Claimed"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
