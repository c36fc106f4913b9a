"""A URLconf for the logging test: a view that starts a task, like a real endpoint would."""
from django.http import JsonResponse
from django.urls import path

from contacts_project.urls import urlpatterns as project_urls

from .tasks import echo


def start_echo(request):
    echo.delay(request.GET.get("marker", ""))
    return JsonResponse({"queued": True}, status=202)


urlpatterns = [path("test-start-task/", start_echo, name="test-start-task"), *project_urls]
