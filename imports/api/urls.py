"""Mounted at /api/v1/ before the studies API."""

from django.urls import path

from . import views

app_name = "imports-api"

urlpatterns = [
    path("imports/preview/", views.ImportPreviewView.as_view(), name="preview"),
    path("imports/confirm/", views.ImportConfirmView.as_view(), name="confirm"),
]
