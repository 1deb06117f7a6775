from django.urls import path

from . import views

app_name = "curation"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("new/", views.publication_new, name="publication_new"),
    path("publications/", views.publication_list, name="publication_list"),
    path("publications/<int:pk>/edit/", views.publication_edit, name="publication_edit"),
    path("extractions/<int:pk>/", views.workspace, name="workspace"),
    path("extractions/<int:pk>/rows/<slug:section>/", views.workspace_row, name="workspace_row"),
    path("extractions/<int:pk>/review/", views.review, name="review"),
    path("extractions/<int:pk>/history/", views.extraction_history, name="extraction_history"),
    path("measure-hint/", views.measure_hint_view, name="measure_hint"),
    path("history/<slug:model>/<int:pk>/", views.live_record_history, name="record_history"),
    path("reconcile/<int:a>/<int:b>/", views.reconcile, name="reconcile"),
    path("reconciliations/<int:pk>/", views.reconciliation_detail, name="reconciliation"),
]
