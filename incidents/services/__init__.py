"""The services: every write, from the pages, the COE editor, the API and the management commands.

One function per operation, keyword-only, each one transaction (services._base.service). Forms
and serializers validate input and call these; nothing else saves. Single-object rules live on
the models (CoeDocument.approve, ActionItem.close); a service strings them together with
revisions, permissions and locking, and tells the dashboard when what it reads has changed
(incidents.figures.data_changed, on commit). The seed loader and the benchmark's generator are
bulk loaders of their own (incidents/seed/loader.py, incidents/generate.py).
"""

from .accounts import api_token_create, api_token_revoke, notification_preference_set
from .actions import action_item_create, action_item_delete, action_item_update
from .coe import (
    ConflictError,
    OpenCommentsError,
    SubmitRefused,
    coe_approve,
    coe_publish,
    coe_quality,
    coe_return_to_draft,
    coe_save,
    coe_snapshot,
    coe_start,
    coe_submit,
    may_resolve,
    open_review_comments,
    review_comment_add,
    review_comment_resolve,
)
from .evidence import (
    ai_involvement_create,
    ai_involvement_delete,
    ai_involvement_update,
    attribution_set,
    claim_create,
    claim_delete,
    claim_update,
    impact_figure_create,
    impact_figure_delete,
    impact_figure_update,
    incident_controls_set,
    incident_source_add,
    incident_source_remove,
    ops_review_set,
    source_create,
    source_update,
)
from .incidents import (
    access_groups_for,
    incident_create,
    incident_update,
    timeline_event_create,
    timeline_event_delete,
    timeline_event_update,
)

__all__ = [
    "ConflictError",
    "OpenCommentsError",
    "SubmitRefused",
    "access_groups_for",
    "action_item_create",
    "action_item_delete",
    "action_item_update",
    "ai_involvement_create",
    "ai_involvement_delete",
    "ai_involvement_update",
    "api_token_create",
    "api_token_revoke",
    "attribution_set",
    "claim_create",
    "claim_delete",
    "claim_update",
    "coe_approve",
    "coe_publish",
    "coe_quality",
    "coe_return_to_draft",
    "coe_save",
    "coe_snapshot",
    "coe_start",
    "coe_submit",
    "impact_figure_create",
    "impact_figure_delete",
    "impact_figure_update",
    "incident_controls_set",
    "incident_create",
    "incident_source_add",
    "incident_source_remove",
    "incident_update",
    "may_resolve",
    "notification_preference_set",
    "open_review_comments",
    "ops_review_set",
    "review_comment_add",
    "review_comment_resolve",
    "source_create",
    "source_update",
    "timeline_event_create",
    "timeline_event_delete",
    "timeline_event_update",
]
