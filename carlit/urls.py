from django.contrib import admin
from django.urls import include, path

from . import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health.health, name="health"),
    path("api/v1/", include("studies.api.urls")),
    path("", include("studies.urls")),
]
