from django.urls import path, register_converter
from django.urls.converters import StringConverter

from .views import actions, coe, evidence, exports, history, import_columns, imports, pages, reviews, tokens

app_name = "incidents"


class KeyConverter(StringConverter):
    """An incident key in a page's path: no slash and no NUL (PostgreSQL cannot compare one), so
    /incidents/INC%00/ is a 404 like any other unknown key."""

    regex = "[^/\x00]+"


register_converter(KeyConverter, "key")

urlpatterns = [
    path("", pages.incident_list, name="list"),
    path("new/", pages.incident_create, name="create"),
    path("export/", exports.export_incidents, name="export"),
    path("imports/", imports.import_upload, name="import-upload"),
    path("imports/<int:job_id>/", imports.import_job, name="import-job"),
    path("imports/<int:job_id>/columns/", import_columns.import_csv_mapping, name="import-csv-mapping"),
    path("imports/<int:job_id>/confirm/", imports.import_confirm, name="import-confirm"),
    path("imports/<int:job_id>/report.json", imports.import_report, name="import-report"),
    path("reviews/", reviews.review_queue, name="review-queue"),
    path("settings/notifications/", actions.notification_settings, name="notifications"),
    path("settings/tokens/", tokens.token_list, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("<key:key>/", pages.incident_detail, name="detail"),
    path("<key:key>/edit/", pages.incident_edit, name="edit"),
    path("<key:key>/timeline/", pages.timeline_edit, name="timeline"),
    path("<key:key>/timeline/<int:event_id>/", pages.timeline_event_edit, name="timeline-event"),
    path("<key:key>/timeline/<int:event_id>/delete/", pages.timeline_event_delete, name="timeline-event-delete"),
    path("<key:key>/actions/<int:item_id>/", actions.action_item_detail, name="action-item"),
    path("<key:key>/evidence/<slug:section>/", evidence.evidence_section, name="evidence-section"),
    path("<key:key>/evidence/<slug:section>/new/", evidence.evidence_add, name="evidence-add"),
    path("<key:key>/evidence/<slug:section>/edit/", evidence.evidence_edit_single, name="evidence-single"),
    path("<key:key>/evidence/<slug:section>/<int:item_id>/", evidence.evidence_edit, name="evidence-item"),
    path("<key:key>/evidence/<slug:section>/<int:item_id>/delete/", evidence.evidence_delete, name="evidence-delete"),
    path("<key:key>/coe/", coe.coe_page, name="coe"),
    path("<key:key>/coe/preview/", coe.coe_preview, name="coe-preview"),
    path("<key:key>/coe/submit/", coe.coe_submit, name="coe-submit"),
    path("<key:key>/coe/approve/", coe.coe_approve, name="coe-approve"),
    path("<key:key>/coe/publish/", coe.coe_publish, name="coe-publish"),
    path("<key:key>/coe/reopen/", coe.coe_reopen, name="coe-reopen"),
    path("<key:key>/coe/comments/", coe.coe_comment, name="coe-comment"),
    path("<key:key>/coe/comments/<int:comment_id>/resolve/", coe.coe_comment_resolve, name="coe-comment-resolve"),
    path("<key:key>/coe/history/", coe.coe_history, name="coe-history"),
    path("<key:key>/coe/export.md", coe.coe_export, name="coe-export"),
    path("<key:key>/history/", history.incident_history, name="history"),
]
