"""Mounted at /curation/import/."""

from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("registry/<int:pk>/", views.registry_record, name="registry_record"),
    path("<slug:key>/", views.preview, name="preview"),
    path("<slug:key>/confirm/", views.confirm, name="confirm"),
    path("<slug:key>/done/", views.result, name="result"),
]
