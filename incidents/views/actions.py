"""An action item's own page: what it is, its status (closed or reopened here), and every reminder sent about it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from incidents import services
from incidents.forms import ActionItemStatusForm
from incidents.models import ActionItem, NotificationPreference
from incidents.views.access import incident_for, require


@login_required
@require_http_methods(["GET", "POST"])
def action_item_detail(request, key: str, item_id: int):
    incident = incident_for(request.user, key)
    item = get_object_or_404(
        ActionItem.objects.select_related("owner", "team", "source", "incident"), pk=item_id, incident=incident
    )
    form = ActionItemStatusForm(request.POST or None, instance=item)
    if request.method == "POST":
        require(request.user, "incidents.change_actionitem")
        if form.is_valid() and form.save_with(services.action_item_update, item=item, user=request.user):
            messages.success(request, f"Status: {item.get_status_display()}.")
            return redirect("incidents:action-item", key=key, item_id=item.pk)
    reminders = item.reminders.select_related("recipient", "team").order_by("-created_at")
    return TemplateResponse(
        request,
        "incidents/action_item.html",
        {
            "incident": incident,
            "item": item,
            "reminders": reminders,
            "status_form": form,
            "can_change": request.user.has_perm("incidents.change_actionitem"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    # Reading the page writes nothing: a person without a saved choice gets reminders.
    preference = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference()
    if request.method == "POST":
        preference = services.notification_preference_set(
            user=request.user, reminders_opt_out=request.POST.get("reminders_opt_out") == "on"
        )
        messages.success(
            request,
            "Reminders are off; escalations about overdue items will still reach you."
            if preference.reminders_opt_out
            else "Reminders are on.",
        )
        return redirect("incidents:notifications")
    return TemplateResponse(request, "incidents/notifications.html", {"preference": preference})
