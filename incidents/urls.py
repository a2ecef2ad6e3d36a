from django.urls import path

from .views import actions, coe, pages, tokens

app_name = "incidents"

urlpatterns = [
    path("", pages.incident_list, name="list"),
    path("new/", pages.incident_create, name="create"),
    path("settings/notifications/", actions.notification_settings, name="notifications"),
    path("settings/tokens/", tokens.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("<str:key>/", pages.incident_detail, name="detail"),
    path("<str:key>/edit/", pages.incident_edit, name="edit"),
    path("<str:key>/timeline/", pages.timeline_edit, name="timeline"),
    path("<str:key>/timeline/<int:event_id>/", pages.timeline_event_edit, name="timeline-event"),
    path("<str:key>/timeline/<int:event_id>/delete/", pages.timeline_event_delete, name="timeline-event-delete"),
    path("<str:key>/actions/<int:item_id>/", actions.action_item_detail, name="action-item"),
    path("<str:key>/coe/", coe.coe_page, name="coe"),
    path("<str:key>/coe/preview/", coe.coe_preview, name="coe-preview"),
    path("<str:key>/coe/submit/", coe.coe_submit, name="coe-submit"),
    path("<str:key>/coe/approve/", coe.coe_approve, name="coe-approve"),
    path("<str:key>/coe/publish/", coe.coe_publish, name="coe-publish"),
    path("<str:key>/coe/reopen/", coe.coe_reopen, name="coe-reopen"),
    path("<str:key>/coe/comments/", coe.coe_comment, name="coe-comment"),
    path("<str:key>/coe/history/", coe.coe_history, name="coe-history"),
    path("<str:key>/coe/export.md", coe.coe_export, name="coe-export"),
]
