from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contacts_project import errors, health, observability
from contacts_project.ids import UUIDTextConverter

register_converter(UUIDTextConverter, "uuid_text")

API = "api/v1/"


def liveness(request):
    """Liveness: the process answers; no I/O (readiness is /health/ready/)."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", liveness, name="health"),
    path("health/ready/", health.readiness, name="health-ready"),
    path("metrics", observability.metrics_view, name="metrics"),
    path(f"{API}schema/", SpectacularAPIView.as_view(), name="schema"),
    path(f"{API}docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(API, include("accounts.api.urls")),
    path(API, include("contacts.api.urls")),
    path(API, include("dataquality.api.urls")),
    path(API, include("organization.api.urls")),
    path(API, include("communications.api.urls")),
    path(API, include("planning.api.urls")),
    path(API, include("collaboration.api.urls")),
    path("", include("communications.urls")),  # tracking links and provider webhooks
]

handler400 = errors.bad_request_view
handler403 = errors.permission_denied_view
handler404 = errors.not_found_view
handler500 = errors.server_error_view
