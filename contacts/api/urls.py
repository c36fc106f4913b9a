"""Contact API routes, by resource module.

Contact ids in URLs match only UUIDs (the router's lookup pattern and the `uuid_text` converter), so fixed routes
under `contacts/` (bulk actions here, imports and export in dataquality) never collide with `contacts/{id}/…`, and
no route depends on the order of includes.
"""
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import bulk_actions, hierarchy, saved_views, shares, tags
from .views import ContactReportView, ContactViewSet, GroupViewSet, OrganizationGroupsView, TemplateViewSet

router = SimpleRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("groups", GroupViewSet, basename="group")
router.register("templates", TemplateViewSet, basename="template")
router.register("views", saved_views.SavedViewViewSet, basename="saved-view")

urlpatterns = [
    path("contacts/actions/", bulk_actions.BulkActionListView.as_view(), name="contact-actions"),
    path("contacts/actions/<str:job_id>/", bulk_actions.BulkActionDetailView.as_view(), name="contact-action-detail"),
    path("contacts/<uuid_text:contact_id>/shares/", shares.ContactSharesView.as_view(), name="contact-shares"),
    path("contacts/<uuid_text:contact_id>/shares/<str:user_id>/", shares.ContactShareDetailView.as_view(),
         name="contact-share"),
    path("contacts/<uuid_text:contact_id>/reports/", hierarchy.ContactReportsView.as_view(), name="contact-reports"),
    path("organizations/<str:organization_id>/groups/", OrganizationGroupsView.as_view(), name="organization-groups"),
    path("organizations/<str:organization_id>/tree/", hierarchy.OrganizationTreeView.as_view(),
         name="organization-tree"),
    path("organizations/<str:organization_id>/merge/", hierarchy.OrganizationMergeView.as_view(),
         name="organization-merge"),
    path("reports/contacts/", ContactReportView.as_view(), name="report-contacts"),
    path("tags/", tags.TagListView.as_view(), name="tags"),
    path("tags/merge/", tags.TagMergeView.as_view(), name="tags-merge"),
    *router.urls,
]
