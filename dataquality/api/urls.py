"""URLs of the data quality and privacy endpoints. Contact ids in URLs match only UUIDs (`uuid_text`), so these
fixed routes under `contacts/` and the contact router never shadow each other, in whatever order they are included."""
from django.urls import path

from .duplicates import ContactDuplicatesView, DuplicateDismissView, DuplicateListView, DuplicateRefreshView
from .exports import ContactExportView
from .imports import ImportActionView, ImportDetailView, ImportErrorReportView, ImportListView
from .merges import MergeDetailView, MergeUndoView, MergeView
from .privacy import LegalHoldView, PrivacyEraseView, PrivacyExportView

urlpatterns = [
    path("duplicates/", DuplicateListView.as_view(), name="duplicate-list"),
    path("duplicates/refresh/", DuplicateRefreshView.as_view(), name="duplicate-refresh"),
    path("duplicates/<str:pair_id>/dismiss/", DuplicateDismissView.as_view(), {"action": "dismiss"},
         name="duplicate-dismiss"),
    path("duplicates/<str:pair_id>/reopen/", DuplicateDismissView.as_view(), {"action": "reopen"},
         name="duplicate-reopen"),
    path("contacts/export/", ContactExportView.as_view(), name="contact-export"),
    path("contacts/imports/", ImportListView.as_view(), name="import-list"),
    path("contacts/imports/<str:job_id>/", ImportDetailView.as_view(), name="import-detail"),
    path("contacts/imports/<str:job_id>/errors/", ImportErrorReportView.as_view(), name="import-errors"),
    path("contacts/imports/<str:job_id>/commit/", ImportActionView.as_view(), {"action": "commit"},
         name="import-commit"),
    path("contacts/imports/<str:job_id>/undo/", ImportActionView.as_view(), {"action": "undo"},
         name="import-undo"),
    path("contacts/merges/<str:merge_id>/", MergeDetailView.as_view(), name="merge-detail"),
    path("contacts/merges/<str:merge_id>/undo/", MergeUndoView.as_view(), name="merge-undo"),
    path("contacts/<uuid_text:contact_id>/merge/", MergeView.as_view(), name="contact-merge"),
    path("contacts/<uuid_text:contact_id>/duplicates/", ContactDuplicatesView.as_view(), name="contact-duplicates"),
    path("contacts/<uuid_text:contact_id>/privacy/export/", PrivacyExportView.as_view(), name="contact-privacy-export"),
    path("contacts/<uuid_text:contact_id>/privacy/erase/", PrivacyEraseView.as_view(), name="contact-privacy-erase"),
    path("contacts/<uuid_text:contact_id>/legal-hold/", LegalHoldView.as_view(), name="contact-legal-hold"),
]
