from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .views import ContactViewSet, health

router = DefaultRouter()
router.register("contacts", ContactViewSet, basename="contact")

urlpatterns = [
    path("health/", health),
    path("api/v1/", include(router.urls)),
]
