"""The navigation's count of COEs waiting for the signed-in approver."""

from django import template

from incidents.views.reviews import waiting_count

register = template.Library()


@register.simple_tag
def review_queue_count(user) -> int | None:
    """None for someone who may not approve (no link), else the count."""
    return waiting_count(user)
