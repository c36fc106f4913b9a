from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views import ContactReportView, ContactViewSet, GroupViewSet, OrganizationGroupsView, TemplateViewSet, TokenView

router = SimpleRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("groups", GroupViewSet, basename="group")
router.register("templates", TemplateViewSet, basename="template")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("organizations/<str:organization_id>/groups/", OrganizationGroupsView.as_view(), name="organization-groups"),
    path("reports/contacts/", ContactReportView.as_view(), name="report-contacts"),
    path("", include("contacts.api.organization_urls")),  # issue 4; before the router (contacts/actions/)
    *router.urls,
]
