from django.shortcuts import render

from .selectors import home_studies


def home(request):
    return render(request, "studies/home.html", {"studies": home_studies()})
