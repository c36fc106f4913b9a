"""SMS coming back: the provider's delivery-status callbacks (Twilio-style `StatusCallback`) and inbound
messages, both POSTed as form data with an `X-Twilio-Signature` (HMAC-SHA1 of the URL and the sorted
parameters, keyed by the account's auth token). A bad or missing signature is a 403 and nothing is stored.

Status callbacks are recorded once per (message, status) as delivery events and move the message to
`delivered` or `failed`. Inbound messages go through the inbound pipeline (stored once per provider
message id): `STOP`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT` (also `STOPALL`, `OPTOUT`, `REVOKE`) opt the
number out of every SMS purpose, `START`, `UNSTOP` (also `YES`) undo a keyword opt-out, each with a
confirmation reply, as US carrier rules require; anything else is logged on the contact found by phone.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
from urllib.parse import parse_qs, urlencode

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contacts.validation import normalize_phone
from contacts_project.errors import problem_response
from contacts_project.metrics import INBOUND_TOKENS_REJECTED

from .. import services
from ..channels import OutboundMessage, PermanentSendError, TransientSendError, channel_config, get_backend
from ..choices import Channel, ConsentStatus, DeliveryEventType, Direction, Purpose, SuppressionReason
from ..models import Communication, ContactPreference, Suppression
from ..policy import address_hash
from .matching import contact_find_by_address
from .models import InboundKind, InboundMessage, InboundSource

logger = logging.getLogger(__name__)
PROVIDER = "twilio"
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
KEYWORD_SOURCE = "sms:keyword"
STATUS_EVENTS = {"delivered": DeliveryEventType.DELIVERED, "undelivered": DeliveryEventType.FAILED,
                 "failed": DeliveryEventType.FAILED, "sent": DeliveryEventType.SENT,
                 "queued": DeliveryEventType.QUEUED, "accepted": DeliveryEventType.QUEUED,
                 "sending": DeliveryEventType.QUEUED, "read": DeliveryEventType.OPENED}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
REPLY_WINDOW = dt.timedelta(days=7)  # an inbound SMS within this time of our last one answers it


# --------------------------------------------------------------------------- signature
def auth_token() -> str:
    if settings.INBOUND_SMS_AUTH_TOKEN:
        return settings.INBOUND_SMS_AUTH_TOKEN
    try:
        return channel_config("sms").get("OPTIONS", {}).get("auth_token", "")
    except (KeyError, ValueError):
        return ""


def signature(token: str, url: str, params: dict[str, list[str]]) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(token, url + name1 + value1 + ...)), names sorted."""
    data = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _verified(request) -> HttpResponse | None:
    """None when the request is signed by the provider; otherwise the problem response to return."""
    token = auth_token()
    if not token:
        return problem_response(403, "SMS callbacks are disabled until an auth token is configured "
                                     "(SMS_URL or INBOUND_SMS_AUTH_TOKEN).")
    given = request.headers.get("X-Twilio-Signature", "")
    params = {key: request.POST.getlist(key) for key in request.POST}
    urls = {settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path(), request.build_absolute_uri()}
    if given and any(hmac.compare_digest(given, signature(token, url, params)) for url in urls):
        return None
    INBOUND_TOKENS_REJECTED.labels("sms_signature").inc()
    logger.warning("SMS callback with a bad signature refused", extra={"path": request.path})
    return problem_response(403, "The request signature (X-Twilio-Signature) is missing or wrong.")


def _required(request, *names: str) -> tuple[dict[str, str], HttpResponse | None]:
    values = {name: request.POST.get(name, "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        return values, problem_response(400, "Required parameters are missing.", errors=[
            {"field": name, "code": "required", "message": f"{name} is required."} for name in missing])
    return values, None


# --------------------------------------------------------------------------- views
@csrf_exempt
@require_POST
def status_callback(request):
    """Delivery status of a message we sent. Idempotent: each (MessageSid, MessageStatus) once."""
    refused = _verified(request)
    if refused is not None:
        return refused
    if not request.POST.get("MessageSid") and request.POST.get("SmsSid"):
        request.POST = request.POST.copy()
        request.POST["MessageSid"], request.POST["MessageStatus"] = request.POST["SmsSid"], \
            request.POST.get("SmsStatus", "")
    values, bad = _required(request, "MessageSid", "MessageStatus")
    if bad is not None:
        return bad
    status = values["MessageStatus"].lower()
    event_type = STATUS_EVENTS.get(status, DeliveryEventType.UNKNOWN)
    error = request.POST.get("ErrorCode", "")
    description = f"{status} (error {error})" if error else status
    services.delivery_event_record(provider=PROVIDER, event_type=event_type,
                                   provider_event_id=f"{values['MessageSid']}:{status}"[:255],
                                   provider_message_id=values["MessageSid"], recipient=request.POST.get("To", ""),
                                   description=description)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def inbound_message(request):
    """An SMS to one of our numbers: stored once per MessageSid and processed by the inbound pipeline."""
    from . import pipeline

    refused = _verified(request)
    if refused is not None:
        return refused
    values, bad = _required(request, "MessageSid", "From")
    if bad is not None:
        return bad
    params = sorted((key, value) for key in request.POST for value in request.POST.getlist(key))
    pipeline.accept(raw=urlencode(params).encode(), source=InboundSource.SMS, envelope_from=values["From"],
                    envelope_to=[request.POST.get("To", "")], message_id=values["MessageSid"])
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


# --------------------------------------------------------------------------- processing (pipeline)
def keyword(body: str) -> str:
    """The carrier keyword a message consists of ('' when it is ordinary text)."""
    word = re.sub(r"[\s.!,;:]+", "", body or "").upper()
    return word if word in STOP_WORDS | START_WORDS else ""


def handle_sms(row: InboundMessage, after: list) -> None:
    params = {key: values[-1] for key, values in parse_qs(bytes(row.raw).decode("utf-8", errors="replace"),
                                                         keep_blank_values=True).items()}
    number, ours, body = params.get("From", ""), params.get("To", ""), params.get("Body", "")
    row.from_address, row.subject = number[:320], body[:255]
    contact = contact_find_by_address(channel=Channel.SMS, address=number)
    row.contact = contact
    try:  # the suppression list keeps numbers in E.164, as the sender looks them up
        e164 = normalize_phone(number) or number
    except ValueError:
        e164 = number
    word = keyword(body)
    if word in STOP_WORDS:
        row.kind = InboundKind.SMS_STOP
        services.suppression_add(channel=Channel.SMS, address=e164, reason=SuppressionReason.UNSUBSCRIBE,
                                 source=KEYWORD_SOURCE, note=f"Replied {word}")
        if contact is not None:
            for purpose in Purpose.values:
                services.consent_withdraw(contact_id=contact.pk, channel=Channel.SMS, purpose=purpose,
                                          source=KEYWORD_SOURCE, wording=f"Replied {word} to {ours} "
                                                                         f"(message {row.message_id})")
        reply = settings.INBOUND_SMS_STOP_REPLY
    elif word in START_WORDS:
        row.kind = InboundKind.SMS_START
        for suppression in Suppression.objects.filter(channel=Channel.SMS, address_hash=address_hash(
                Channel.SMS, e164), reason=SuppressionReason.UNSUBSCRIBE):
            services.suppression_remove(suppression_id=suppression.pk)
        if contact is not None:
            # only what a keyword withdrew comes back; an opt-out given another way stays
            ContactPreference.objects.filter(contact=contact, channel=Channel.SMS, status=ConsentStatus.OPTED_OUT,
                                             source=KEYWORD_SOURCE).update(
                status=ConsentStatus.OPTED_IN, source=KEYWORD_SOURCE, recorded_at=timezone.now(),
                wording=f"Replied {word} to {ours} (message {row.message_id})")
        reply = settings.INBOUND_SMS_START_REPLY
    else:
        reply = ""
        if contact is None:
            row.kind = InboundKind.UNMATCHED
            return
        row.kind = InboundKind.SMS_MESSAGE
        since = timezone.now() - REPLY_WINDOW
        original = (Communication.objects.filter(contact=contact, type=Channel.SMS, direction=Direction.OUTBOUND,
                                                 sent_at__gte=since).order_by("-sent_at", "-id").first())
        row.communication = original
        row.logged_as = services.communication_create(data={
            "type": Channel.SMS, "contact": contact.pk, "direction": Direction.INBOUND, "content": body,
            "in_reply_to": original.pk if original else None,
            "purpose": original.purpose if original else Purpose.TRANSACTIONAL,
            "metadata": {"message_id": row.message_id, "from": number, "to": ours, "inbound": str(row.pk)}})
    if reply:
        after.append(lambda: confirm(row.pk, to=number, from_number=ours, text=reply))


def confirm(inbound_id, *, to: str, from_number: str, text: str) -> bool:
    """The keyword confirmation, sent at most once per inbound message (claimed before it is sent)."""
    claimed = InboundMessage.objects.filter(pk=inbound_id, reply_sent_at__isnull=True).update(
        reply_sent_at=timezone.now())
    if not claimed:
        return False
    backend = get_backend(Channel.SMS)
    try:
        backend.send(OutboundMessage(channel=Channel.SMS, to=to, text=text, from_address=from_number,
                                     reference=f"keyword-{inbound_id}"))
    except (TransientSendError, PermanentSendError) as exc:
        logger.warning("SMS keyword confirmation not sent: %s", exc, extra={"inbound": str(inbound_id)})
        return False
    finally:
        backend.close()
    return True
