"""Action items: create, edit (status included) and delete, from the COE editor, the item's page and the API.

An item is closed exactly when its status is done, won't-do or verified, and then it has a
completed_at (ActionItem.close; closing again, e.g. done -> verified, keeps the first time);
reopened, it has none. Whatever the path, the dashboard counts it on time or late.
"""

from __future__ import annotations

from incidents.models import ActionItem, Incident
from incidents.models.vocab import ACTION_STATUSES_CLOSED

from ._base import service, set_fields

# What a caller may set; keys of `data` outside these are ignored. `owner` is a user or None.
FIELDS = ("title", "description", "action_type", "priority", "owner", "due_date", "ticket_url", "answers_why", "status")
# Empty text is "", never NULL.
_TEXT = {"title", "description", "ticket_url", "answers_why"}


def _apply(item: ActionItem, data: dict) -> ActionItem:
    set_fields(item, data, FIELDS, text=_TEXT)
    if item.status in ACTION_STATUSES_CLOSED:
        item.close(item.status)
    else:
        item.completed_at = None
    item.full_clean()
    item.save()
    return item


@service(dashboard=True)
def action_item_create(*, incident: Incident, data: dict) -> ActionItem:
    return _apply(ActionItem(incident=incident), data)


@service(dashboard=True)
def action_item_update(*, item: ActionItem, data: dict) -> ActionItem:
    """Change what `data` holds; setting a closing status closes the item, an open one reopens it."""
    return _apply(item, data)


@service(dashboard=True)
def action_item_delete(*, item: ActionItem) -> None:
    item.delete()
