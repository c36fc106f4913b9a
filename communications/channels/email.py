"""Email through Django's mail backends: SMTP by default (EMAIL_URL), any django-anymail ESP by
setting EMAIL_BACKEND. One connection is reused for a batch."""
from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from . import ChannelBackend, OutboundMessage, PermanentSendError, SendResult, TransientSendError

try:  # django-anymail is optional at import time; its errors are classified when present
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused, AnymailRequestsAPIError
except ImportError:  # pragma: no cover
    AnymailAPIError = AnymailRecipientsRefused = AnymailRequestsAPIError = None


def message_id_for(reference: str) -> str:
    """Our own Message-ID, fixed per communication: receivers and providers can recognise a repeat."""
    return f"<{reference}@{settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN}>"


class EmailBackend(ChannelBackend):
    channel = "email"

    def __init__(self, backend: str | None = None, **options):
        super().__init__(**options)
        self.backend_path = backend or None  # None: settings.EMAIL_BACKEND
        self.connection = None

    def open(self) -> None:
        if self.connection is None:
            self.connection = get_connection(self.backend_path, fail_silently=False)
            try:
                self.connection.open()
            except (OSError, smtplib.SMTPException) as exc:
                self.connection = None
                raise TransientSendError(f"Cannot reach the mail server: {exc}") from exc

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except (OSError, smtplib.SMTPException):
                pass
            self.connection = None

    def is_anymail(self) -> bool:
        backend = type(self.connection) if self.connection is not None else None
        path = f"{backend.__module__}" if backend else (self.backend_path or settings.EMAIL_BACKEND)
        return path.startswith("anymail.")

    def build(self, message: OutboundMessage) -> EmailMultiAlternatives:
        headers = {"Message-ID": message_id_for(message.reference), **message.headers}
        sender = message.from_address or settings.DEFAULT_FROM_EMAIL
        # a VERP envelope sender for SMTP-like backends (Django's SMTP backend uses from_email as MAIL FROM and
        # the From header when one is given); ESPs through anymail report bounces by webhook and keep theirs
        envelope = message.envelope_sender if not self.is_anymail() else ""
        if envelope:
            headers["From"] = sender
        email = EmailMultiAlternatives(
            subject=message.subject, body=message.text, to=[message.to],
            from_email=envelope or sender, headers=headers,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        # anymail passes metadata to the ESP, which echoes it in tracking webhooks
        email.metadata = {**message.metadata, "communication_id": message.reference}
        return email

    def send(self, message: OutboundMessage) -> SendResult:
        self.open()
        email = self.build(message)
        try:
            self.connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientSendError(f"Recipient deferred: {exc.recipients}") from exc
            raise PermanentSendError(f"Recipient refused: {exc.recipients}") from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            self.close()
            if 400 <= exc.smtp_code < 500:
                raise TransientSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()  # the connection is in an unknown state; the next message opens a new one
            raise TransientSendError(f"Mail server error: {exc}") from exc
        except Exception as exc:
            if AnymailRecipientsRefused is not None and isinstance(exc, AnymailRecipientsRefused):
                raise PermanentSendError(str(exc)) from exc
            if AnymailAPIError is not None and isinstance(exc, AnymailAPIError):
                status = getattr(exc, "status_code", None)
                if status is None or status == 429 or status >= 500:
                    raise TransientSendError(str(exc)) from exc
                raise PermanentSendError(str(exc)) from exc
            raise
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        if provider_id is None or provider_id == "":
            provider_id = email.extra_headers["Message-ID"]  # SMTP: our own Message-ID
        return SendResult(provider_message_id=str(provider_id))
