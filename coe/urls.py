from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from incidents import health
from incidents.mcp.http import McpView
from incidents.views import dashboard, search

# Under /api/ errors answer the API's JSON shape, elsewhere Django's pages.
handler400 = "incidents.api.errors.bad_request"
handler403 = "incidents.api.errors.permission_denied"
handler404 = "incidents.api.errors.page_not_found"
handler500 = "incidents.api.errors.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("readyz/workers", health.readyz_workers, name="readyz-workers"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("incidents/", include("incidents.urls")),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/csv/", dashboard.dashboard_csv, name="dashboard-csv"),
    path("dashboard/incidents/", dashboard.dashboard_incidents, name="dashboard-incidents"),
    path("search/", search.search, name="search"),
    path("api/v1/", include("incidents.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # The MCP server for AI agents (docs/mcp.md); with or without the slash, as clients are configured either way.
    re_path(r"^mcp/?$", McpView.as_view(), name="mcp"),
]
