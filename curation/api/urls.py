"""Mounted at /api/v1/ next to the studies API."""

from rest_framework.routers import SimpleRouter

from . import views

app_name = "curation-api"

router = SimpleRouter()
router.register("extractions", views.ExtractionViewSet, basename="extraction")

urlpatterns = router.urls
