"""Benchmark-only URLs: raw-SQL counterparts of the API list and the catalogue page,
the catalogue page with its stored counts under filters dropped first, and a group's
drill-down page with its rows drawn anew.

Mounted under /bench/ by carlit/urls.py only when CARLIT_BENCH_URLS=1 (bench/run.py
sets it for the gunicorn it starts); never part of a normal deployment.
"""

from django.urls import path

from . import views

app_name = "bench"

urlpatterns = [
    path("raw/studies/", views.raw_study_list, name="raw-study-list"),
    path("raw/catalogue/", views.raw_catalogue, name="raw-catalogue"),
    path("afresh/catalogue/", views.catalogue_counted_afresh, name="catalogue-afresh"),
    path("afresh/summary/<slug:disease>/<str:targets>/", views.summary_detail_drawn_anew,
         name="summary-detail-afresh"),
]
