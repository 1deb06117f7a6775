from django.urls import path

from . import views

app_name = "studies"

urlpatterns = [
    path("", views.home, name="home"),
    path("studies/", views.study_list, name="study_list"),
    path("studies/export.csv", views.export_csv, name="export_csv"),
    path("studies/export.ris", views.export_ris, name="export_ris"),
    path("studies/export.bib", views.export_bibtex, name="export_bibtex"),
    path("studies/<int:pk>/", views.study_detail, name="study_detail"),
    path("constructs/", views.construct_list, name="construct_list"),
    path("constructs/<int:pk>/", views.construct_detail, name="construct_detail"),
    path("diseases/", views.disease_list, name="disease_list"),
    path("diseases/<slug:code>/", views.disease_detail, name="disease_detail"),
    path("summary/", views.summary_dashboard, name="summary"),
    path("summary/<slug:disease>/<str:targets>/", views.summary_detail, name="summary_detail"),
]
