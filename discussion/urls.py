from django.urls import path

from . import views

app_name = "discussion"

urlpatterns = [
    path("comments/", views.comment_add, name="comment_add"),
    path("comments/<int:pk>/resolve/", views.comment_resolve, name="comment_resolve"),
    path("comments/<int:pk>/reopen/", views.comment_reopen, name="comment_reopen"),
    path("<str:target_type>/<int:object_id>/", views.record, name="record"),
]
