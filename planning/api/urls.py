from rest_framework.routers import SimpleRouter

from .views import CampaignViewSet, ContactListViewSet, SegmentViewSet, TaskViewSet

router = SimpleRouter()
router.register("lists", ContactListViewSet, basename="list")
router.register("segments", SegmentViewSet, basename="segment")
router.register("tasks", TaskViewSet, basename="task")
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
