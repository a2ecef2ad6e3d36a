"""An action item's own page: what it is, and every reminder sent about it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from incidents.models import ActionItem, NotificationPreference
from incidents.views.access import incident_for


@login_required
def action_item_detail(request, key: str, item_id: int):
    incident = incident_for(request.user, key)
    item = get_object_or_404(
        ActionItem.objects.select_related("owner", "team", "source", "incident"), pk=item_id, incident=incident
    )
    reminders = item.reminders.select_related("recipient", "team").order_by("-created_at")
    return TemplateResponse(
        request, "incidents/action_item.html", {"incident": incident, "item": item, "reminders": reminders}
    )


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    preference, _ = NotificationPreference.objects.get_or_create(user=request.user)
    if request.method == "POST":
        preference.reminders_opt_out = request.POST.get("reminders_opt_out") == "on"
        preference.save()
        messages.success(
            request,
            "Reminders are off; escalations about overdue items will still reach you."
            if preference.reminders_opt_out
            else "Reminders are on.",
        )
        return redirect("incidents:notifications")
    return TemplateResponse(request, "incidents/notifications.html", {"preference": preference})
