"""URLs of the REST API, mounted at /api/v1/."""

from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import bundles, views

app_name = "api"

router = SimpleRouter()
router.register("publications", views.PublicationViewSet, basename="publication")
router.register("studies", views.StudyViewSet, basename="study")
router.register("constructs", views.ConstructViewSet, basename="construct")
router.register("arms", views.ArmViewSet, basename="arm")
router.register("patients", views.PatientViewSet, basename="patient")
router.register("outcomes", views.OutcomeViewSet, basename="outcome")
router.register("adverse-events", views.AdverseEventViewSet, basename="adverse-event")
router.register("diseases", views.DiseaseViewSet, basename="disease")
router.register("antigens", views.AntigenViewSet, basename="antigen")
router.register("measures", views.MeasureViewSet, basename="measure")


@csrf_exempt  # any method answers 404, not Django's HTML CSRF page
def not_found(request, *args, **kwargs):
    """Unknown API paths answer in JSON, like every other API error."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    *router.urls,
    path("summaries/", views.SummaryListView.as_view(), name="summary-list"),
    path("bundles/", bundles.BundleImportView.as_view(), name="bundle-import"),
    path("bundles/schema.json", bundles.BundleSchemaView.as_view(), name="bundle-schema"),
    path("bundles/<str:publication>/", bundles.BundleExportView.as_view(), name="bundle-export"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^.*$", not_found),
]
