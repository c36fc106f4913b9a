"""Signed addresses on outgoing mail: VERP Return-Path, Reply-To and the mailto: List-Unsubscribe."""
import logging
import uuid

import pytest
from django.utils import timezone

from communications import dispatch
from communications.inbound import addresses
from communications.models import Communication, ContactPreference
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def send(comm) -> dict:
    Communication.objects.filter(pk=comm.pk).update(status="queued", queued_at=timezone.now())
    return dispatch.send_messages([str(comm.pk)])


def test_tokens_round_trip_and_fit_in_a_local_part():
    comm_id = uuid.uuid4()
    for kind in (addresses.BOUNCE, addresses.REPLY, addresses.UNSUBSCRIBE):
        addr = addresses.address(kind, comm_id)
        assert len(addr.split("@")[0]) <= 64  # RFC 5321
        assert addresses.parse(addr) == addresses.Parsed(kind, str(comm_id))
        # relays that change the letter case keep it valid (base32)
        assert addresses.parse(addr.upper()) == addresses.Parsed(kind, str(comm_id))
    assert addresses.parse(addresses.log_address(42)) == addresses.Parsed(addresses.LOG, "42")


def test_forged_and_tampered_tokens_are_ignored_and_logged(caplog):
    comm_id = uuid.uuid4()
    good = addresses.bounce_address(comm_id)
    local, _, host = good.partition("@")
    encoded, mac = local.split("+", 1)[1].split("-")
    other = addresses.token(addresses.BOUNCE, uuid.uuid4()).split("-")[0]
    flipped = ("b" if mac[0] != "b" else "c") + mac[1:]
    with caplog.at_level(logging.WARNING, logger="communications.inbound.addresses"):
        assert addresses.parse(f"bounce+{other}-{mac}@{host}") is None  # another id, this signature
        assert addresses.parse(f"bounce+{encoded}-{flipped}@{host}") is None  # signature changed
        assert addresses.parse(f"reply+{encoded}-{mac}@{host}") is None  # signed for another kind
        assert addresses.parse(f"bounce+garbage@{host}") is None
    assert sum("inbound token rejected" in r.getMessage() for r in caplog.records) == 4
    assert addresses.parse(f"bounce+{encoded}-{mac}@elsewhere.example") is None  # not our domain
    assert addresses.parse("someone@example.com") is None


def test_outgoing_mail_carries_verp_reply_to_and_mailto_unsubscribe(smtp_sink):
    contact = ContactFactory(email="ada@example.com")
    ContactPreference.objects.create(contact=contact, channel="email", purpose="marketing", status="opted_in",
                                     source="test")
    comm = CommunicationFactory(contact=contact, purpose="marketing")
    assert send(comm) == {"sent": 1}
    envelope, message = smtp_sink.handler.envelopes[0], smtp_sink.messages[0]
    assert envelope.mail_from == addresses.bounce_address(comm.pk)  # the Return-Path receivers record
    assert addresses.parse(envelope.mail_from) == addresses.Parsed(addresses.BOUNCE, str(comm.pk))
    assert message["From"] == "contacts@example.com"  # the visible sender is unchanged
    assert addresses.parse(message["Reply-To"]) == addresses.Parsed(addresses.REPLY, str(comm.pk))
    https, mailto = "".join(str(message["List-Unsubscribe"]).split()).split(",")
    assert https.startswith("<http") and "/t/u/" in https
    assert mailto == f"<mailto:{addresses.unsubscribe_address(comm.pk)}>"


def test_transactional_mail_has_verp_but_no_unsubscribe(smtp_sink, settings):
    settings.INBOUND_CAPTURE_REPLIES = False
    comm = CommunicationFactory()
    send(comm)
    envelope, message = smtp_sink.handler.envelopes[0], smtp_sink.messages[0]
    assert envelope.mail_from == addresses.bounce_address(comm.pk)
    assert message["List-Unsubscribe"] is None and message["Reply-To"] is None
