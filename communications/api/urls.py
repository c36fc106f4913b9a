from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import CommunicationViewSet, ContactCommunicationsView

router = SimpleRouter()
router.register("communications", CommunicationViewSet, basename="communication")

urlpatterns = [
    path("contacts/<str:contact_id>/communications/", ContactCommunicationsView.as_view({"get": "list"}),
         name="contact-communications"),
    *router.urls,
]
