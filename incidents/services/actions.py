"""Action items: create, edit (status included) and delete, from the COE editor, the item's page and the API.

An item is closed exactly when its status is done, won't-do or verified, and then it has a
completed_at (ActionItem.close; closing again, e.g. done -> verified, keeps the first time);
reopened, it has none. Whatever the path, the dashboard counts it on time or late.

Closing records who closed it (completed_by); "verified effective" follows the two-person rule: the
person verifying is neither who closed the item nor its owner, and is recorded (verified_by).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from incidents.models import ActionItem, Incident
from incidents.models.vocab import ACTION_STATUSES_CLOSED, ActionStatus

from ._base import service, set_fields

# What a caller may set; keys of `data` outside these are ignored. `owner` is a user or None.
FIELDS = (
    "title",
    "description",
    "action_type",
    "priority",
    "owner",
    "due_date",
    "ticket_url",
    "answers_why",
    "status",
    "basis",
)
# Empty text is "", never NULL.
_TEXT = {"title", "description", "ticket_url", "answers_why"}


def _apply(item: ActionItem, data: dict, user) -> ActionItem:
    # What is stored, not what a form may already have put on the instance; locked, so two people
    # closing and verifying at once are judged one after the other.
    stored = (
        ActionItem.objects.select_for_update().filter(pk=item.pk).values("status", "owner_id").first()
        if item.pk
        else None
    )
    was = stored["status"] if stored else None
    set_fields(item, data, FIELDS, text=_TEXT)
    actor = user.pk if user is not None else None
    if item.status in ACTION_STATUSES_CLOSED:
        if was not in ACTION_STATUSES_CLOSED:
            item.completed_at = None
            item.completed_by_id = actor
        item.close(item.status)
    else:
        item.completed_at = None
        item.completed_by_id = None
    if item.status == ActionStatus.VERIFIED and was != ActionStatus.VERIFIED:
        _check_verifier(item, actor, stored_owner=stored["owner_id"] if stored else None)
        item.verified_by_id = actor
    elif item.status != ActionStatus.VERIFIED:
        item.verified_by_id = None
    item.full_clean()
    item.save()
    return item


def _check_verifier(item: ActionItem, actor: int | None, *, stored_owner: int | None) -> None:
    """The two-person rule: "verified effective" is someone else's word than the closer's or the owner's."""
    if actor is None:
        raise ValidationError({"status": "Verifying needs a person: someone other than who closed it and its owner."})
    if actor == item.completed_by_id:
        raise ValidationError(
            {"status": "Someone other than the person who closed this item must verify it (mark it done first)."}
        )
    if actor in (item.owner_id, stored_owner):
        raise ValidationError({"status": "The item's owner cannot verify it: someone else must."})


@service(dashboard=True)
def action_item_create(*, incident: Incident, data: dict, user=None) -> ActionItem:
    """`user` is who acts: the closer an item created closed records, never its verifier."""
    return _apply(ActionItem(incident=incident), data, user)


@service(dashboard=True)
def action_item_update(*, item: ActionItem, data: dict, user=None) -> ActionItem:
    """Change what `data` holds; setting a closing status closes the item (recording `user` as who
    closed it), an open one reopens it. Verifying needs a `user` other than who closed it and its owner."""
    return _apply(item, data, user)


@service(dashboard=True)
def action_item_delete(*, item: ActionItem) -> None:
    item.delete()
