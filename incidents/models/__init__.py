"""Domain models, one module per concept; import from `incidents.models`."""

from .actions import ActionItem, Control
from .ai import CITABLE_AI_FIELDS, AIFieldCitation, AIInvolvement
from .coe import SECTIONS, CoeDocument, CoeRevision, ReviewComment, WorkflowError
from .evidence import Claim, Source
from .imports import ImportFormat, ImportJob, ImportMapping, ImportState
from .incident import ImpactFigure, Incident, IncidentFactor, TimelineEvent
from .keys import IncidentKeyCounter
from .mcp import McpCall
from .reminders import NotificationPreference, ReminderLog
from .teams import Region, Service, Tag, Team
from .tokens import ApiToken, TokenScope

__all__ = [
    "CITABLE_AI_FIELDS",
    "SECTIONS",
    "AIFieldCitation",
    "AIInvolvement",
    "ActionItem",
    "ApiToken",
    "Claim",
    "CoeDocument",
    "CoeRevision",
    "Control",
    "ImpactFigure",
    "ImportFormat",
    "ImportJob",
    "ImportMapping",
    "ImportState",
    "Incident",
    "IncidentFactor",
    "IncidentKeyCounter",
    "McpCall",
    "NotificationPreference",
    "Region",
    "ReminderLog",
    "ReviewComment",
    "Service",
    "Source",
    "Tag",
    "Team",
    "TimelineEvent",
    "TokenScope",
    "WorkflowError",
]
