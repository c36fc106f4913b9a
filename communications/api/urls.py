from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    CommunicationViewSet,
    ContactCommunicationsView,
    ContactPreferencesView,
    MessageTemplateViewSet,
    SuppressionViewSet,
)

router = SimpleRouter()
router.register("communications", CommunicationViewSet, basename="communication")
router.register("message-templates", MessageTemplateViewSet, basename="message-template")
router.register("suppressions", SuppressionViewSet, basename="suppression")

urlpatterns = [
    path("contacts/<uuid_text:contact_id>/communications/", ContactCommunicationsView.as_view({"get": "list"}),
         name="contact-communications"),
    path("contacts/<uuid_text:contact_id>/preferences/", ContactPreferencesView.as_view(), name="contact-preferences"),
    *router.urls,
]
