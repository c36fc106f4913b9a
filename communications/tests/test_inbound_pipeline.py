"""The inbound pipeline: classification of a corpus of real notices, and every effect (suppressions,
statuses, opt-outs with proof, replies on the timeline), each exactly once however often a message comes."""
import datetime as dt
import email.utils
import uuid

import pytest
from django.utils import timezone

from communications.inbound import addresses, classify, pipeline
from communications.inbound.models import InboundMessage, SoftBounce, UnmatchedInbound
from communications.models import Communication, ContactPreference, DeliveryEvent, Suppression
from communications.policy import address_hash
from communications.tests import inbound_support as mails
from communications.tests.factories import CommunicationFactory
from contacts.tests.factories import ContactFactory
from contacts_project import events
from contacts_project.metrics import INBOUND_PROBLEMS

pytestmark = pytest.mark.django_db

CORPUS_EXPECTED = {
    # flufl.bounce's samples: (kind, failed address)
    "flufl_aol_01.eml": ("hard_bounce", "screenname@aol.com"),
    "flufl_dsn_01.eml": ("hard_bounce", "userx@example.com"),
    "flufl_dsn_02.eml": ("soft_bounce", "zzzzz@example.uk"),
    "flufl_dsn_05.eml": ("soft_bounce", "userx@example.cz"),
    "flufl_dsn_17.eml": ("soft_bounce", "userx@example.fi"),
    "flufl_exim_01.eml": ("hard_bounce", "userx@its.example.nl"),
    "flufl_groupwise_01.eml": ("hard_bounce", "userx@example.edu"),
    "flufl_hotpop_01.eml": ("hard_bounce", "userx@example.com"),
    "flufl_microsoft_01.eml": ("hard_bounce", "userx@example.com"),
    "flufl_microsoft_04.eml": ("hard_bounce", "userx@example.com"),
    "flufl_newmailru_01.eml": ("hard_bounce", "zzzzz@newmail.ru"),
    "flufl_postfix_01.eml": ("hard_bounce", "xxxxx@local.ie"),
    "flufl_postfix_04.eml": ("hard_bounce", "userx@mail1.example.com"),
    "flufl_qmail_01.eml": ("hard_bounce", "userx@example.de"),
    "flufl_sendmail_01.eml": ("hard_bounce", "zzzzz@nfg.nl"),
    "flufl_simple_01.eml": ("hard_bounce", "bbbsss@example.com"),
    "flufl_simple_03.eml": ("soft_bounce", "userx@example.za"),
    "flufl_yahoo_01.eml": ("hard_bounce", "userx@example.com"),
    "arf_abuse.eml": ("complaint", "user@example.com"),
    "auto_rfc3834.eml": ("auto_reply", None),
    "auto_x_autoreply.eml": ("auto_reply", None),
    "auto_precedence.eml": ("auto_reply", None),
    "auto_exchange.eml": ("auto_reply", None),
    "auto_vacation_subject.eml": ("auto_reply", None),
}


def test_the_corpus_covers_every_sample():
    assert {p.name for p in mails.CORPUS.glob("*.eml")} == set(CORPUS_EXPECTED)


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_is_classified(name):
    kind, address = CORPUS_EXPECTED[name]
    result = classify.classify(classify.parse((mails.CORPUS / name).read_bytes()))
    assert result.kind == kind
    if kind == "complaint":
        assert result.complaint_address == address
    elif address:
        assert address in [f.address for f in result.failures]
        assert all(f.hard == (kind == "hard_bounce") for f in result.failures)


def sent(contact=None, **kwargs) -> Communication:
    contact = contact or ContactFactory()
    comm = CommunicationFactory(contact=contact, status="sent", sent_at=timezone.now(), to_address=contact.email,
                                **kwargs)
    return comm


def ingest(raw: bytes, rcpt: str | list[str] = (), mail_from: str = "", source: str = "smtp") -> InboundMessage:
    row, created = pipeline.accept(raw=raw, source=source, envelope_from=mail_from,
                                   envelope_to=[rcpt] if isinstance(rcpt, str) else list(rcpt))
    assert created
    pipeline.process(row.pk)
    row.refresh_from_db()
    return row


def snapshot() -> tuple:
    return (InboundMessage.objects.count(), Suppression.objects.count(), DeliveryEvent.objects.count(),
            Communication.objects.count(), SoftBounce.objects.count(),
            sorted(ContactPreference.objects.values_list("contact_id", "purpose", "status", "recorded_at")),
            sorted(Communication.objects.values_list("id", "status")))


def test_hard_bounce_to_the_verp_address_bounces_and_suppresses_and_replay_changes_nothing():
    comm = sent()
    raw, rcpt = mails.dsn(comm, status="5.1.1")
    row = ingest(raw, rcpt)
    assert (row.kind, row.state, row.communication_id) == ("hard_bounce", "processed", comm.pk)
    comm.refresh_from_db()
    assert comm.status == "bounced"
    suppression = Suppression.objects.get(address_hash=address_hash("email", comm.to_address))
    assert suppression.reason == "hard_bounce" and suppression.communication_id == comm.pk
    assert "5.1.1" in suppression.note
    before = snapshot()
    again, created = pipeline.accept(raw=raw, source="smtp", envelope_to=[rcpt])
    assert (created, again.pk) == (False, row.pk)
    assert pipeline.process(row.pk) == "skipped"
    assert snapshot() == before


def test_bounce_without_verp_is_matched_by_the_attached_original_headers():
    """A mailbox whose relay rewrote the Return-Path: the token is gone, the original's Message-ID is not."""
    comm = sent()
    raw, rcpt = mails.dsn(comm, verp=False)
    row = ingest(raw, source="imap")
    assert row.kind == "hard_bounce" and row.communication_id == comm.pk
    assert Communication.objects.get(pk=comm.pk).status == "bounced"


def test_non_standard_notice_through_flufl_bounce_suppresses_the_contact_address():
    contact = ContactFactory(email="xxxxx@local.ie")
    comm = sent(contact)
    row = ingest((mails.CORPUS / "flufl_postfix_01.eml").read_bytes(), source="imap")
    assert row.kind == "hard_bounce" and row.detail["detector"] == "flufl.bounce"
    assert row.communication_id == comm.pk  # the last message sent to that address
    assert Suppression.objects.filter(address="xxxxx@local.ie", reason="hard_bounce").exists()


def test_notice_about_an_address_we_never_mailed_changes_nothing():
    before = snapshot()
    row = ingest((mails.CORPUS / "flufl_qmail_01.eml").read_bytes(), source="imap")
    assert row.kind == "hard_bounce" and row.detail["applied"] == []
    assert snapshot()[1:] == before[1:]


def test_soft_bounces_suppress_at_the_threshold_within_the_window(settings):
    settings.INBOUND_SOFT_BOUNCE_THRESHOLD, settings.INBOUND_SOFT_BOUNCE_DAYS = 3, 7
    comm = sent()
    digest = address_hash("email", comm.to_address)
    old = ingest(*mails.dsn(comm, status="4.2.2", action="delayed", nonce="old"))
    SoftBounce.objects.filter(inbound=old).update(at=timezone.now() - dt.timedelta(days=8))  # outside the window
    for nonce in ("a", "b"):
        row = ingest(*mails.dsn(comm, status="4.2.2", action="delayed", nonce=nonce))
        assert row.kind == "soft_bounce"
    assert not Suppression.objects.filter(address_hash=digest).exists()
    ingest(*mails.dsn(comm, status="4.4.1", action="failed", nonce="c"))  # failed with 4.x.x is still soft
    suppression = Suppression.objects.get(address_hash=digest)
    assert suppression.reason == "soft_bounce" and "3 soft bounces within 7 days" in suppression.note
    assert Communication.objects.get(pk=comm.pk).status == "sent"  # a soft bounce does not bounce the message


def test_complaint_suppresses_and_opts_out_of_the_purpose():
    comm = sent(purpose="marketing")
    row = ingest(*mails.arf(comm))
    assert row.kind == "complaint" and row.communication_id == comm.pk
    assert Suppression.objects.get(address=comm.to_address).reason == "complaint"
    preference = ContactPreference.objects.get(contact=comm.contact, channel="email", purpose="marketing")
    assert preference.status == "opted_out" and preference.source == "inbound:complaint"


def test_mailto_unsubscribe_opts_out_with_proof():
    comm = sent(purpose="newsletter")
    raw, rcpt = mails.mailto_unsubscribe(comm)
    row = ingest(raw, rcpt, mail_from=comm.to_address)
    assert row.kind == "unsubscribe"
    preference = ContactPreference.objects.get(contact=comm.contact, channel="email", purpose="newsletter")
    assert preference.status == "opted_out" and preference.source == "inbound:unsubscribe"
    assert comm.to_address in preference.wording and row.message_id in preference.wording
    assert str(row.pk) in preference.wording
    assert not Suppression.objects.exists()  # an unsubscribe is about one purpose, not the address


def test_reply_goes_on_the_timeline_marks_replied_counts_and_notifies(django_capture_on_commit_callbacks):
    owner = pytest.importorskip("django.contrib.auth").get_user_model().objects.create_user("owner")
    comm = sent(created_by=owner)
    heard = []
    events.subscribe(collect := lambda event, payload: heard.append((event, payload)))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            row = ingest(*mails.reply(comm, body="Yes please, call me."))
    finally:
        events.SUBSCRIBERS.remove(collect)
    assert row.kind == "reply" and row.communication_id == comm.pk
    logged = row.logged_as
    assert (logged.direction, logged.type, logged.contact_id, logged.in_reply_to_id) == \
        ("inbound", "email", comm.contact_id, comm.pk)
    assert "Yes please, call me." in logged.content and logged.subject == f"Re: {comm.subject}"
    assert Communication.objects.get(pk=comm.pk).status == "replied"
    comm.contact.refresh_from_db()
    assert comm.contact.engagement_score > 0
    replied = [p for e, p in heard if e == "communication.replied"]
    assert replied == [{"id": str(comm.pk), "reply": str(logged.pk), "contact": str(comm.contact_id),
                        "owner": owner.pk, "campaign": None, "subject": f"Re: {comm.subject}"}]


def test_reply_matched_by_in_reply_to_without_a_token():
    comm = sent()
    row = ingest(*mails.reply(comm, token=False))
    assert row.kind == "reply" and row.logged_as.in_reply_to_id == comm.pk


def test_auto_reply_is_neither_bounce_nor_reply():
    comm = sent()
    before = snapshot()
    row = ingest(*mails.auto_reply(comm))
    assert row.kind == "auto_reply" and row.communication_id == comm.pk and row.logged_as is None
    assert snapshot()[1:] == before[1:]


def test_mail_from_a_known_contact_matching_nothing_is_logged_to_the_contact():
    contact = ContactFactory(email="Grace@Example.com")
    raw = (f"From: grace@example.com\r\nTo: hello@{addresses.domain()}\r\nSubject: A question\r\n"
           f"Message-ID: <q1@example.com>\r\nDate: {email.utils.formatdate()}\r\n\r\nDo you ship abroad?\r\n").encode()
    row = ingest(raw, f"hello@{addresses.domain()}")
    assert row.kind == "contact_mail" and row.contact_id == contact.pk
    assert row.logged_as.direction == "inbound" and row.logged_as.in_reply_to_id is None
    assert "ship abroad" in row.logged_as.content


def test_anything_else_is_unmatched_and_listed_in_the_admin(admin_client):
    raw = (f"From: stranger@example.net\r\nTo: hello@{addresses.domain()}\r\nSubject: Hello there\r\n"
           f"Message-ID: <s1@example.net>\r\n\r\nWho are you?\r\n").encode()
    row = ingest(raw, f"hello@{addresses.domain()}")
    assert row.kind == "unmatched" and row.logged_as is None
    assert list(UnmatchedInbound.objects.values_list("id", flat=True)) == [row.pk]
    page = admin_client.get("/admin/communications/unmatchedinbound/")
    assert page.status_code == 200 and "stranger@example.net" in page.content.decode()
    assert admin_client.get(f"/admin/communications/unmatchedinbound/{row.pk}/change/").status_code == 200


def test_bcc_drop_address_logs_staff_mail_on_the_recipients_timelines(django_user_model):
    staff = django_user_model.objects.create_user("sales", email="sales@example.com", is_staff=True)
    alice, bob = ContactFactory(email="alice@example.com"), ContactFactory(email="bob@example.com")
    drop = addresses.log_address(staff)
    raw = (f"From: sales@example.com\r\nTo: Alice <alice@example.com>, nobody@example.org\r\n"
           f"Cc: bob@example.com\r\nSubject: Your quote\r\nMessage-ID: <quote-1@example.com>\r\n"
           f"Date: {email.utils.formatdate()}\r\n\r\nHere is the quote.\r\n").encode()
    row = ingest(raw, drop, mail_from="sales@example.com")
    assert row.kind == "staff_log"
    logged = Communication.objects.filter(metadata__inbound=str(row.pk)).order_by("contact__email")
    assert [(c.contact_id, c.direction, c.status, c.created_by_id) for c in logged] == [
        (alice.pk, "outbound", "sent", staff.pk), (bob.pk, "outbound", "sent", staff.pk)]
    # a forged drop address logs nothing
    forged = drop.replace(drop.split("-")[-1][:4], "aaaa" if not drop.split("-")[-1].startswith("aaaa") else "bbbb")
    row = ingest(raw.replace(b"quote-1", b"quote-2"), forged)
    assert row.kind == "unmatched"
    assert Communication.objects.filter(metadata__inbound=str(row.pk)).count() == 0


def problems(kind: str) -> float:
    return INBOUND_PROBLEMS.labels(kind)._value.get()


def test_malformed_mime_is_logged_counted_and_writes_nothing(caplog):
    before, count = snapshot(), problems("malformed")
    row = ingest(b"\x00\xff\xfe garbage without any header\r\n" * 5, f"x@{addresses.domain()}")
    assert (row.state, row.kind) == ("processed", "malformed")
    assert problems("malformed") == count + 1
    assert any("malformed" in r.getMessage() for r in caplog.records)
    assert snapshot()[1:] == before[1:]


def test_broken_multipart_and_unknown_charset_are_read_as_far_as_possible():
    contact = ContactFactory(email="ines@example.com")
    raw = (b"From: =?x-unknown-charset?q?In=E9s?= <ines@example.com>\r\nTo: hello@" + addresses.domain().encode()
           + b"\r\nSubject: =?x-klingon?b?SGVsbG8=?=\r\nMessage-ID: <odd-1@example.com>\r\n"
           b"Content-Type: multipart/alternative; boundary=\"never-closed\"\r\n\r\n--never-closed\r\n"
           b"Content-Type: text/plain; charset=x-unknown-charset\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Caf\xe9 ol\xe9\r\n")
    row = ingest(raw, f"hello@{addresses.domain()}")
    assert row.kind == "contact_mail" and row.contact_id == contact.pk
    assert "Caf" in row.logged_as.content and row.detail.get("defects")


def test_our_own_message_coming_back_is_a_loop():
    comm = sent()
    raw = mails.original_headers(comm).encode() + b"\r\nHello\r\n"
    before, count = snapshot(), problems("loop")
    row = ingest(raw, addresses.bounce_address(comm.pk))
    assert row.kind == "loop" and problems("loop") == count + 1
    assert snapshot()[1:] == before[1:]


def test_a_bounce_of_our_bounce_address_is_a_loop():
    comm = sent()
    raw, rcpt = mails.dsn(comm, recipient=addresses.bounce_address(uuid.uuid4()))
    row = ingest(raw, rcpt)
    assert row.kind == "loop"
    assert Communication.objects.get(pk=comm.pk).status == "sent" and not Suppression.objects.exists()


def test_an_error_while_applying_leaves_nothing_half_written(monkeypatch):
    comm = sent()

    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline.services, "suppression_add", explode)  # after the status change
    raw, rcpt = mails.dsn(comm, status="4.2.2", action="delayed")
    monkeypatch.setattr(pipeline.settings, "INBOUND_SOFT_BOUNCE_THRESHOLD", 1)
    before, count = snapshot(), problems("error")
    row = ingest(raw, rcpt)
    assert row.state == "failed" and "disk on fire" in row.error and problems("error") == count + 1
    assert snapshot()[1:4] == before[1:4] and SoftBounce.objects.count() == 0


def test_raw_messages_are_purged_after_the_retention_period():
    old = ingest(*mails.reply(sent()))
    new = ingest(*mails.reply(sent()))
    InboundMessage.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=31))
    assert pipeline.purge_raw() == 1
    old.refresh_from_db(), new.refresh_from_db()
    assert bytes(old.raw) == b"" and old.raw_purged_at is not None and old.kind == "reply"
    assert bytes(new.raw) != b"" and new.raw_purged_at is None
    assert pipeline.purge_raw() == 0


def test_lost_tasks_are_swept_and_a_row_is_processed_once(celery_eager, django_capture_on_commit_callbacks):
    comm = sent()
    raw, rcpt = mails.dsn(comm)
    row, _ = pipeline.accept(raw=raw, source="smtp", envelope_to=[rcpt])  # its task never ran (on_commit held)
    assert pipeline.sweep() == 0  # too recent: its task may still come
    InboundMessage.objects.filter(pk=row.pk).update(received_at=timezone.now() - dt.timedelta(minutes=5))
    assert pipeline.sweep() == 1  # eager: processed now
    row.refresh_from_db()
    assert (row.state, row.kind) == ("processed", "hard_bounce")
    assert pipeline.sweep() == 0 and pipeline.process(row.pk) == "skipped"


def test_admin_processes_unmatched_mail_again_once_the_contact_exists(admin_client, celery_eager,
                                                                      django_capture_on_commit_callbacks):
    raw = (f"From: late@example.net\r\nTo: hello@{addresses.domain()}\r\nSubject: Me again\r\n"
           f"Message-ID: <late-1@example.net>\r\n\r\nHello\r\n").encode()
    row = ingest(raw, f"hello@{addresses.domain()}")
    assert row.kind == "unmatched"
    contact = ContactFactory(email="late@example.net")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/communications/unmatchedinbound/",
                                     {"action": "process_again", "_selected_action": [str(row.pk)]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.kind, row.contact_id) == ("contact_mail", contact.pk)
    assert not UnmatchedInbound.objects.exists()


def test_privacy_export_and_erasure_cover_received_mail():
    from contacts_project.registry import registry

    comm = sent()
    ingest(*mails.reply(comm))
    exported = registry["privacy_exporters"]["inbound_messages"](comm.contact_id)
    assert [e["kind"] for e in exported] == ["reply"]
    identity = {"email": comm.to_address, "phone": "", "email_hash": "", "phone_hash": ""}
    assert registry["privacy_erasers"]["inbound_messages"](comm.contact_id, identity) == 1
    assert not InboundMessage.objects.exists()


def test_an_unrecognised_notice_to_a_verp_address_falls_back_to_its_status_code():
    comm = sent()
    rcpt = addresses.bounce_address(comm.pk)
    raw = (f"From: Mail System <postmaster@relay.example.net>\r\nTo: {rcpt}\r\nSubject: Message not delivered\r\n"
           f"Message-ID: <odd-notice-1@relay.example.net>\r\n\r\nSorry, we could not deliver your mail.\r\n"
           f"Remote said: 550 5.2.1 The account is disabled.\r\n").encode()
    row = ingest(raw, rcpt, mail_from="")
    assert (row.kind, row.detail["detector"]) == ("hard_bounce", "heuristic")
    assert Communication.objects.get(pk=comm.pk).status == "bounced"
    assert "5.2.1" in Suppression.objects.get(address=comm.to_address).note


def test_a_complaint_naming_only_an_address_suppresses_a_known_contact():
    contact = ContactFactory(email="user@example.com")
    row = ingest((mails.CORPUS / "arf_abuse.eml").read_bytes(), source="imap")
    assert (row.kind, row.contact_id, row.communication_id) == ("complaint", contact.pk, None)
    assert Suppression.objects.get(address="user@example.com").reason == "complaint"
