"""Real peers for the sending tests: an SMTP server (aiosmtpd) and a Twilio-style HTTP server, both on
free localhost ports, started per test."""
from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkHandler:
    """Keeps every message it accepts; `reply` can force an SMTP error code for the next DATA."""

    def __init__(self, spool_dir=None):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.lock = threading.Lock()
        self.reply: str | None = None
        self.spool_dir = spool_dir

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append(envelope)
        if self.spool_dir is not None:
            reference = message["X-Communication-ID"]
            (self.spool_dir / f"{reference}.{len(self.messages)}").write_bytes(b"")
        return "250 OK"

    def by_reference(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.lock:
            for message in self.messages:
                ref = message["X-Communication-ID"]
                counts[ref] = counts.get(ref, 0) + 1
        return counts


class Sink:
    def __init__(self, handler: SinkHandler, port: int):
        self.handler, self.port = handler, port

    @property
    def messages(self):
        return self.handler.messages


@pytest.fixture
def smtp_sink(settings, tmp_path):
    handler = SinkHandler(spool_dir=tmp_path)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    sink = Sink(handler, port)
    sink.spool_dir = tmp_path
    yield sink
    controller.stop()


class FakeTwilio(BaseHTTPRequestHandler):
    requests: list = []
    status_code = 201

    def do_POST(self):  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length", 0))
        body = parse_qs(self.rfile.read(length).decode())
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        code = type(self).status_code
        payload = {"sid": f"SM{len(type(self).requests):032d}", "status": "queued"} if code < 400 else \
            {"code": 21211, "message": "Invalid 'To' Phone Number"}
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio_server():
    handler = type("Handler", (FakeTwilio,), {"requests": [], "status_code": 201})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.handler = handler
    yield server
    server.shutdown()
    server.server_close()
