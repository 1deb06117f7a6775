"""Mounted at /api/v1/ before the studies API."""

from rest_framework.routers import SimpleRouter

from . import views

app_name = "links-api"

router = SimpleRouter()
router.register("link-requests", views.LinkRequestViewSet, basename="link-request")

urlpatterns = router.urls
