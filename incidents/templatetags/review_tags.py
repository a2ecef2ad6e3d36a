"""The navigation's count of COEs waiting for the signed-in approver."""

from django import template

from incidents.views.reviews import awaiting_review

register = template.Library()


@register.simple_tag
def review_queue_count(user) -> int:
    return awaiting_review(user).count()
