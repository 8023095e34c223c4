from django.http import HttpResponse
from django.urls import path


def fails(request):
    raise RuntimeError("the image server went away")


def page(request):
    return HttpResponse("ok")


urlpatterns = [path("fails/", fails), path("page/", page)]
