"""Writes made over the API: validated input in, model rules applied, one transaction."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.models import ActionItem, Incident, Region, Service, Tag
from incidents.models.vocab import ACTION_STATUSES_CLOSED

_INCIDENT_FIELDS = [
    "title",
    "summary",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "customer_impact",
    "primary_cause",
    "trigger_kind",
    "trigger_text",
    "harm_level",
    "attribution_status",
    "adopted_cause",
    "adopted_cause_rationale",
    "restricted",
]


def _group_for(user, name: str | None) -> Group | None:
    if not name:
        return None
    # A user can only restrict to a group they belong to, so nobody hides an incident from themselves.
    groups = Group.objects.all() if user.is_superuser else user.groups.all()
    group = groups.filter(name=name).first()
    if group is None:
        raise ValidationError({"access_group": f"You are not a member of a group named {name!r}."})
    return group


@transaction.atomic
def incident_write(*, user, data: dict, incident: Incident | None = None) -> Incident:
    incident = incident or Incident(owner=user)
    for field in _INCIDENT_FIELDS:
        if field in data:
            setattr(incident, field, data[field] if data[field] is not None or field.endswith("_at") else "")
    if "access_group" in data:
        incident.access_group = _group_for(user, data["access_group"])
    incident.full_clean(exclude=["key"])
    incident.save()
    if "services" in data:
        incident.services.set([Service.objects.get_or_create(name=n)[0] for n in data["services"]])
    if "regions" in data:
        incident.regions.set([Region.objects.get_or_create(code=c)[0] for c in data["regions"]])
    if "tags" in data:
        incident.tags.set([Tag.objects.get_or_create(name=t.lower())[0] for t in data["tags"]])
    if "contributing_factors" in data:
        wanted = set(data["contributing_factors"])
        incident.factors.exclude(factor__in=wanted).delete()
        have = set(incident.factors.values_list("factor", flat=True))
        for factor in wanted - have:
            incident.factors.create(factor=factor)
    return incident


@transaction.atomic
def action_item_write(*, item: ActionItem, data: dict) -> ActionItem:
    for field in ("title", "description", "action_type", "priority", "due_date", "ticket_url", "answers_why"):
        if field in data:
            setattr(item, field, data[field] if data[field] is not None or field == "due_date" else "")
    if "owner" in data:
        owner = data["owner"]
        item.owner = get_user_model().objects.filter(username=owner).first() if owner else None
        if owner and item.owner is None:
            raise ValidationError({"owner": f"No user named {owner!r}."})
    if "status" in data and data["status"] != item.status:
        if data["status"] in ACTION_STATUSES_CLOSED:
            item.close(data["status"])
        else:
            item.status = data["status"]
            item.completed_at = None
    item.full_clean()
    item.save()
    return item
