"""Tracking links and provider webhooks (outside /api/v1/: recipients and providers call them)."""
from django.urls import path

from . import views
from .inbound import sms as inbound_sms

urlpatterns = [
    path("t/o/<str:token>/", views.open_pixel, name="tracking-open"),
    path("t/c/<str:token>/", views.click_redirect, name="tracking-click"),
    path("t/u/<str:token>/", views.one_click_unsubscribe, name="tracking-unsubscribe"),
    path("webhooks/anymail/<str:esp>/tracking/", views.anymail_tracking, name="anymail-tracking"),
    path("webhooks/sms/status/", inbound_sms.status_callback, name="sms-status-callback"),
    path("webhooks/sms/inbound/", inbound_sms.inbound_message, name="sms-inbound"),
]
