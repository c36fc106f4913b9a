"""Test-only channel backend: SMTP, plus a hand-over check against the test SMTP server's spool
(a real provider with a message-lookup API plays this part in production)."""
from __future__ import annotations

import os
from pathlib import Path

from communications.channels import Handover
from communications.channels.email import EmailBackend


class SpoolCheckingEmailBackend(EmailBackend):
    def __init__(self, spool: str = "", **options):
        super().__init__(**options)
        self.spool = Path(spool or os.environ["SINK_SPOOL_DIR"])

    def check_handover(self, reference: str) -> Handover:
        found = any(self.spool.glob(f"{reference}.*"))
        return Handover.HANDED_OVER if found else Handover.NOT_HANDED_OVER
