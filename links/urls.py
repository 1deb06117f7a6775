from django.urls import path

from . import views

app_name = "links"

urlpatterns = [
    path("", views.identity, name="identity"),
    path("propose/", views.identity_propose, name="identity_propose"),
    path("link/", views.identity_link, name="identity_link"),
    path("undo/", views.identity_undo, name="identity_undo"),
    path("supersession/", views.supersession, name="supersession"),
    path("supersession/undo/", views.supersession_undo, name="supersession_undo"),
    path("requests/<int:pk>/submit/", views.submit, name="submit"),
    path("requests/<int:pk>/review/", views.review, name="review"),
]
