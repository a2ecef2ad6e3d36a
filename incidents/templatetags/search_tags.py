"""{% similar_incidents incident as similar %}: earlier incidents like this one, for the incident page."""

from django import template

from incidents.search import similar_incidents as find_similar

register = template.Library()


@register.simple_tag(takes_context=True)
def similar_incidents(context, incident):
    request = context.get("request")
    user = getattr(request, "user", None)
    return find_similar(incident, user) if user is not None else []
