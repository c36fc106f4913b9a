from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import shares
from .views import ContactReportView, ContactViewSet, GroupViewSet, OrganizationGroupsView, TemplateViewSet

router = SimpleRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("groups", GroupViewSet, basename="group")
router.register("templates", TemplateViewSet, basename="template")

urlpatterns = [
    path("contacts/<str:contact_id>/shares/", shares.ContactSharesView.as_view(), name="contact-shares"),
    path("contacts/<str:contact_id>/shares/<str:user_id>/", shares.ContactShareDetailView.as_view(),
         name="contact-share"),
    path("organizations/<str:organization_id>/groups/", OrganizationGroupsView.as_view(), name="organization-groups"),
    path("reports/contacts/", ContactReportView.as_view(), name="report-contacts"),
    path("", include("contacts.api.organization_urls")),  # issue 4; before the router (contacts/actions/)
    path("", include("contacts.api.data_urls")),  # issue 8; before the router (contacts/imports/, export/)
    *router.urls,
]
