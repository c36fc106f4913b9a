from rest_framework.routers import SimpleRouter

from .views import CategoryViewSet, ContactTypeViewSet, OrganizationViewSet

router = SimpleRouter()
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("contact-types", ContactTypeViewSet, basename="contact-type")
router.register("categories", CategoryViewSet, basename="category")
urlpatterns = router.urls
