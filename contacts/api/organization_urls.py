"""Routes of the organization tools (issue 4); included before the contact router so `contacts/actions/`
is not taken for a contact id."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from .organization_views import (
    BulkActionDetailView,
    BulkActionListView,
    ContactReportsView,
    OrganizationMergeView,
    OrganizationTreeView,
    SavedViewViewSet,
    TagListView,
    TagMergeView,
)

router = SimpleRouter()
router.register("views", SavedViewViewSet, basename="saved-view")

urlpatterns = [
    path("contacts/actions/", BulkActionListView.as_view(), name="contact-actions"),
    path("contacts/actions/<str:job_id>/", BulkActionDetailView.as_view(), name="contact-action-detail"),
    path("contacts/<str:contact_id>/reports/", ContactReportsView.as_view(), name="contact-reports"),
    path("organizations/<str:organization_id>/tree/", OrganizationTreeView.as_view(), name="organization-tree"),
    path("organizations/<str:organization_id>/merge/", OrganizationMergeView.as_view(), name="organization-merge"),
    path("tags/", TagListView.as_view(), name="tags"),
    path("tags/merge/", TagMergeView.as_view(), name="tags-merge"),
    *router.urls,
]
