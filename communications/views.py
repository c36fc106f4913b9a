"""Public endpoints outside the API: tracking pixel, click redirects, one-click unsubscribe (RFC 8058)
and provider webhooks. No login; every request is authenticated by a signature instead."""
from __future__ import annotations

import base64
import hashlib

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.html import escape
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from contacts_project.errors import problem_response

from . import services, tracking
from .choices import DeliveryEventType
from .models import Communication

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

# anymail's tracking webhook view for each ESP it supports
ANYMAIL_TRACKING_VIEWS = {
    "amazon_ses": "anymail.webhooks.amazon_ses.AmazonSESTrackingWebhookView",
    "brevo": "anymail.webhooks.brevo.BrevoTrackingWebhookView",
    "mailersend": "anymail.webhooks.mailersend.MailerSendTrackingWebhookView",
    "mailgun": "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    "mailjet": "anymail.webhooks.mailjet.MailjetTrackingWebhookView",
    "mandrill": "anymail.webhooks.mandrill.MandrillCombinedWebhookView",
    "postal": "anymail.webhooks.postal.PostalTrackingWebhookView",
    "postmark": "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    "resend": "anymail.webhooks.resend.ResendTrackingWebhookView",
    "sendgrid": "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
    "sparkpost": "anymail.webhooks.sparkpost.SparkPostTrackingWebhookView",
}


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@never_cache
def open_pixel(request, token: str):
    data = tracking.load(token, tracking.SALT_OPEN)
    if data is None:
        return problem_response(404, "Not found.")
    services.delivery_event_record(provider="tracking", event_type=DeliveryEventType.OPENED,
                                   provider_event_id=f"open:{data['c']}", communication_id=data["c"],
                                   ip_address=_client_ip(request))
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
def click_redirect(request, token: str):
    data = tracking.load(token, tracking.SALT_CLICK)
    target = (data or {}).get("u", "")
    if data is None or not isinstance(target, str) or not target.startswith(("http://", "https://")):
        return problem_response(404, "Not found.")
    link = hashlib.sha256(target.encode()).hexdigest()[:16]
    services.delivery_event_record(provider="tracking", event_type=DeliveryEventType.CLICKED,
                                   provider_event_id=f"click:{data['c']}:{link}", communication_id=data["c"],
                                   url=target, ip_address=_client_ip(request))
    return HttpResponseRedirect(target)


UNSUBSCRIBE_FORM = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body>
<form method="post"><p>Stop receiving {purpose} {channel} messages?</p>
<input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
</body></html>"""
UNSUBSCRIBED = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribed</title></head><body>
<p>You will no longer receive {purpose} {channel} messages.</p></body></html>"""


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def one_click_unsubscribe(request, token: str):
    """RFC 8058: mailbox providers POST `List-Unsubscribe=One-Click` here. A GET (a person following the
    link, or a link scanner) only shows a confirmation form, so scanners unsubscribe nobody."""
    data = tracking.load(token, tracking.SALT_UNSUBSCRIBE)
    comm = Communication.objects.filter(pk=data["c"]).only("id", "type", "purpose", "contact_id").first() \
        if data else None
    if comm is None:
        return problem_response(404, "Not found.")
    words = {"purpose": escape(comm.purpose), "channel": escape(comm.type)}
    if request.method == "GET":
        return HttpResponse(UNSUBSCRIBE_FORM.format(**words))
    services.delivery_event_record(provider="tracking", event_type=DeliveryEventType.UNSUBSCRIBED,
                                   provider_event_id=f"unsubscribe:{comm.pk}", communication_id=comm.pk,
                                   description="One-click unsubscribe (RFC 8058)", ip_address=_client_ip(request))
    return HttpResponse(UNSUBSCRIBED.format(**words))


@csrf_exempt
def anymail_tracking(request, esp: str):
    """Provider delivery, bounce and complaint webhooks through anymail's views (which check the ESP's
    signature and the WEBHOOK_SECRET basic auth). A failed check is a 401 and nothing is stored."""
    from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure

    path = ANYMAIL_TRACKING_VIEWS.get(esp)
    if path is None:
        return problem_response(404, f"No webhook for {esp!r}.")
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        # anymail would accept unauthenticated posts with a warning; refuse them instead
        return problem_response(401, "Webhooks are disabled until ANYMAIL_WEBHOOK_SECRET is set.",
                                headers={"WWW-Authenticate": 'Basic realm="webhooks"'})
    try:
        view = import_string(path).as_view()
        return view(request)
    except AnymailWebhookValidationFailure as exc:
        return problem_response(401, f"Webhook signature or credentials invalid: {exc}",
                                headers={"WWW-Authenticate": 'Basic realm="webhooks"'})
    except AnymailConfigurationError as exc:
        return problem_response(404, f"The {esp} webhook is not configured: {exc}")


def record_anymail_event(sender, event, esp_name, **kwargs):
    """Receiver of anymail's `tracking` signal: hands the normalized event to the service."""
    metadata = event.metadata or {}
    services.delivery_event_record(
        provider=esp_name.lower().replace(" ", "_"), event_type=event.event_type,
        provider_event_id=str(event.event_id or ""), provider_message_id=str(event.message_id or ""),
        communication_id=metadata.get("communication_id"), recipient=event.recipient or "",
        occurred_at=event.timestamp, description=event.description or event.mta_response or "",
        url=event.click_url or "")
