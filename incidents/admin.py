"""Admin for operators: every model listed, searchable, filterable, with inlines."""

from django.contrib import admin

from .models import (
    ActionItem,
    AIInvolvement,
    ApiToken,
    Claim,
    CoeDocument,
    CoeRevision,
    Control,
    ImpactFigure,
    ImportMapping,
    Incident,
    IncidentFactor,
    McpCall,
    Region,
    ReminderLog,
    ReviewComment,
    Service,
    Source,
    Tag,
    Team,
    TimelineEvent,
)


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    autocomplete_fields = ["source"]


class FactorInline(admin.TabularInline):
    model = IncidentFactor
    extra = 0


class ImpactFigureInline(admin.TabularInline):
    model = ImpactFigure
    extra = 0
    autocomplete_fields = ["source"]


class AIInvolvementInline(admin.StackedInline):
    model = AIInvolvement
    extra = 0
    autocomplete_fields = ["evidence"]


class ClaimInline(admin.StackedInline):
    model = Claim
    extra = 0
    autocomplete_fields = ["source"]


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["title", "action_type", "priority", "status", "owner", "due_date", "disputed"]
    autocomplete_fields = ["owner"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "title",
        "severity",
        "status",
        "primary_cause",
        "attribution_status",
        "started_at",
        "restricted",
    ]
    list_filter = ["severity", "status", "primary_cause", "attribution_status", "harm_level", "restricted", "services"]
    search_fields = ["key", "title", "summary"]
    date_hierarchy = "started_at"
    readonly_fields = ["key", "created_at", "updated_at"]
    autocomplete_fields = ["owner", "sources", "services", "regions", "tags", "team"]
    inlines = [FactorInline, ImpactFigureInline, TimelineInline, AIInvolvementInline, ClaimInline, ActionItemInline]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["publisher", "title", "kind", "published_on", "published_approx"]
    list_filter = ["kind"]
    search_fields = ["title", "publisher", "url"]


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["incident", "claimant", "stance", "claimed_cause", "claimed_ai_role", "source"]
    list_filter = ["stance", "claimed_cause", "claimed_ai_role"]
    search_fields = ["claimant", "statement", "quote", "incident__key"]
    autocomplete_fields = ["incident", "source"]


@admin.register(AIInvolvement)
class AIInvolvementAdmin(admin.ModelAdmin):
    list_display = [
        "incident",
        "agent_name",
        "vendor",
        "role",
        "autonomy_level",
        "gate_present",
        "gate_bypassed",
        "action_class",
    ]
    list_filter = ["role", "autonomy_level", "gate_present", "gate_bypassed", "permissions_held", "action_class"]
    search_fields = ["agent_name", "vendor", "incident__key"]
    autocomplete_fields = ["incident", "evidence"]


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ["incident", "occurred_at", "kind", "actor_kind", "moment", "source"]
    list_filter = ["kind", "actor_kind", "precision"]
    search_fields = ["description", "incident__key"]
    autocomplete_fields = ["incident", "source"]


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["title", "incident", "action_type", "priority", "status", "owner", "due_date", "disputed"]
    list_filter = ["status", "action_type", "priority", "disputed", "team"]
    search_fields = ["title", "description", "incident__key"]
    autocomplete_fields = ["incident", "owner", "source", "team"]


class RevisionInline(admin.TabularInline):
    model = CoeRevision
    extra = 0
    fields = ["number", "status", "saved_by", "saved_at", "note"]
    readonly_fields = fields
    can_delete = False


@admin.register(CoeDocument)
class CoeDocumentAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "owner", "approver", "version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["incident__key", "incident__title", "summary"]
    autocomplete_fields = ["incident", "owner", "approver", "authors"]
    readonly_fields = ["version", "created_at", "updated_at", "submitted_at", "approved_at", "published_at"]
    inlines = [RevisionInline]


@admin.register(ReviewComment)
class ReviewCommentAdmin(admin.ModelAdmin):
    list_display = ["coe", "section", "author", "created_at", "resolved_at"]
    list_filter = ["section"]
    search_fields = ["body"]


@admin.register(Control)
class ControlAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "scope", "owner_name", "starts_on", "ends_on", "disputed"]
    list_filter = ["status", "disputed"]
    search_fields = ["name", "description", "scope"]
    autocomplete_fields = ["incidents", "sources", "owner"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "webhook_url"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "team"]
    list_filter = ["team"]
    search_fields = ["name"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(ReminderLog)
class ReminderLogAdmin(admin.ModelAdmin):
    list_display = ["claim_key", "kind", "channel", "recipient", "state", "attempts", "created_at", "sent_at", "error"]
    list_filter = ["state", "kind", "channel"]
    search_fields = ["claim_key", "error", "recipient__username"]
    readonly_fields = [f.name for f in ReminderLog._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "scope", "key_id", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "user__username", "key_id"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(McpCall)
class McpCallAdmin(admin.ModelAdmin):
    """The MCP call log, for superusers only and read-only: an agent's arguments can name what only the
    token's user may see (a member's search for a restricted incident's words), so staff without it do not
    read them, and nobody edits the record."""

    list_display = [
        "created_at",
        "agent_name",
        "user",
        "transport",
        "method",
        "tool",
        "result_size",
        "duration",
        "error",
    ]
    # No list filters nor date hierarchy: each reads every row of a log that only grows (a DISTINCT per
    # column); searching by agent, user or tool finds the calls, newest first.
    search_fields = ["agent_name", "user__username", "tool", "error"]
    show_full_result_count = False
    list_select_related = ["user"]
    fields = readonly_fields = [
        "created_at", "agent_name", "token", "user", "transport", "method", "tool", "arguments", "result_size",
        "duration", "error",
    ]  # fmt: skip

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, call: McpCall) -> str:
        return f"{call.duration_ms:.1f} ms"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    """Saved CSV column mappings: renamed or deleted here; made on the import's columns step."""

    list_display = ["name", "created_by", "created_at", "updated_at"]
    search_fields = ["name"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_at", "updated_at"]
