import os

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health.health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("curation/links/", include("links.urls")),
    path("curation/discussion/", include("discussion.urls")),
    path("curation/import/", include("imports.urls")),
    path("curation/", include("curation.urls")),
    # Before the studies API, whose last pattern answers every other /api/v1/ path.
    path("api/v1/", include("curation.api.urls")),
    path("api/v1/", include("discussion.api.urls")),
    path("api/v1/", include("links.api.urls")),
    path("api/v1/", include("imports.api.urls")),
    path("api/v1/", include("studies.api.urls")),
    path("", include("studies.urls")),
]

if os.environ.get("CARLIT_BENCH_URLS") == "1":
    # Raw-SQL counterparts of the API list and the catalogue, for bench/ only
    # (bench/README.md); a deployment never sets this.
    urlpatterns.insert(0, path("bench/", include("bench.urls")))
