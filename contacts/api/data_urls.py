"""URLs of the data quality and privacy endpoints (issue 8). Listed before the contact router so
`contacts/imports/` and `contacts/export/` are not read as contact ids."""
from django.urls import path

from . import data_views as v

urlpatterns = [
    path("duplicates/", v.DuplicateListView.as_view(), name="duplicate-list"),
    path("duplicates/refresh/", v.DuplicateRefreshView.as_view(), name="duplicate-refresh"),
    path("duplicates/<str:pair_id>/dismiss/", v.DuplicateDismissView.as_view(), {"action": "dismiss"},
         name="duplicate-dismiss"),
    path("duplicates/<str:pair_id>/reopen/", v.DuplicateDismissView.as_view(), {"action": "reopen"},
         name="duplicate-reopen"),
    path("contacts/export/", v.ContactExportView.as_view(), name="contact-export"),
    path("contacts/imports/", v.ImportListView.as_view(), name="import-list"),
    path("contacts/imports/<str:job_id>/", v.ImportDetailView.as_view(), name="import-detail"),
    path("contacts/imports/<str:job_id>/errors/", v.ImportErrorReportView.as_view(), name="import-errors"),
    path("contacts/imports/<str:job_id>/commit/", v.ImportActionView.as_view(), {"action": "commit"},
         name="import-commit"),
    path("contacts/imports/<str:job_id>/undo/", v.ImportActionView.as_view(), {"action": "undo"},
         name="import-undo"),
    path("contacts/merges/<str:merge_id>/", v.MergeDetailView.as_view(), name="merge-detail"),
    path("contacts/merges/<str:merge_id>/undo/", v.MergeUndoView.as_view(), name="merge-undo"),
    path("contacts/<str:contact_id>/merge/", v.MergeView.as_view(), name="contact-merge"),
    path("contacts/<str:contact_id>/duplicates/", v.ContactDuplicatesView.as_view(), name="contact-duplicates"),
    path("contacts/<str:contact_id>/privacy/export/", v.PrivacyExportView.as_view(), name="contact-privacy-export"),
    path("contacts/<str:contact_id>/privacy/erase/", v.PrivacyEraseView.as_view(), name="contact-privacy-erase"),
    path("contacts/<str:contact_id>/legal-hold/", v.LegalHoldView.as_view(), name="contact-legal-hold"),
]
