from rest_framework.routers import SimpleRouter

from .views import ContactListViewSet, SegmentViewSet, TaskViewSet

router = SimpleRouter()
router.register("lists", ContactListViewSet, basename="list")
router.register("segments", SegmentViewSet, basename="segment")
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = router.urls
