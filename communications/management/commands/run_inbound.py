"""`manage.py run_inbound`: the inbound SMTP/LMTP receiver until SIGTERM or Ctrl-C."""
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from communications.inbound import receiver


class Command(BaseCommand):
    help = "Receive bounces, complaints, replies and unsubscribes by SMTP (or LMTP) for BOUNCE_DOMAIN."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="Address to listen on (INBOUND_SMTP_HOST).")
        parser.add_argument("--port", type=int, default=None, help="Port (INBOUND_SMTP_PORT, default 2525).")
        parser.add_argument("--protocol", choices=("smtp", "lmtp"), default=None,
                            help="smtp or lmtp (INBOUND_SMTP_PROTOCOL).")

    def handle(self, *args, host=None, port=None, protocol=None, **options):
        controller = receiver.start(host=host, port=port, protocol=protocol)
        self.stdout.write(f"inbound {protocol or settings.INBOUND_SMTP_PROTOCOL} receiver on "
                          f"{controller.hostname}:{controller.port} for {settings.BOUNCE_DOMAIN}")
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            controller.stop()
