"""Mounted at /api/v1/ before the studies API."""

from rest_framework.routers import SimpleRouter

from . import views

app_name = "discussion-api"

router = SimpleRouter()
router.register("comments", views.CommentViewSet, basename="comment")

urlpatterns = router.urls
