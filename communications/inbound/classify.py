"""What a received message is. Pure functions on the parsed message: no database.

Order: our own message coming back (loop), RFC 5965 feedback reports (complaints), RFC 3464 delivery
status notifications, `mailto:` unsubscribes, non-standard bounces recognised by flufl.bounce, auto-replies
(RFC 3834 Auto-Submitted, X-Autoreply, Precedence: auto_reply, vacation subjects), a last heuristic for
bounces nothing else understood, and then replies, staff mail and mail from people.
"""
from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass, field
from email.message import Message

from django.conf import settings

from . import addresses

logger = logging.getLogger(__name__)

# kinds (InboundKind values)
HARD, SOFT, DSN_OTHER, COMPLAINT, AUTO_REPLY = "hard_bounce", "soft_bounce", "dsn_other", "complaint", "auto_reply"
UNSUBSCRIBE, REPLY, STAFF_LOG, PERSON, LOOP, MALFORMED = (
    "unsubscribe", "reply", "staff_log", "person", "loop", "malformed")

DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mdaemon", "bounce", "bounces")
BOUNCE_SUBJECT = re.compile(
    r"(undeliver|undelivered mail|delivery (status notification|failure|has failed|notification)|"
    r"mail delivery (failed|failure|system|subsystem)|returned mail|failure notice|delivery problem|"
    r"non[- ]?delivery|could not be delivered|nicht zustellbar|unzustellbar|no se puede entregar|"
    r"non remis|message not delivered|warning: could not send)", re.IGNORECASE)
VACATION_SUBJECT = re.compile(
    r"^\s*(\[?auto(matic|matische)?[ -]?(reply|response|respond|antwort|answer)|autoreply|"
    r"out of (the )?office|ooo\b|on vacation|vacation|away from|abwesen|absence|"
    r"r[ée]ponse automatique|respuesta autom[aá]tica|fuera de la oficina|risposta automatica|"
    r"automatisch antwoord|afwezig|i am (currently )?(out|away))", re.IGNORECASE)
STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_REPLY = re.compile(r"\b([45])\d\d[ -]")
MAX_RECEIVED = 40
EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
logging.getLogger("flufl.bounce").setLevel(logging.WARNING)  # it logs every detector it runs at INFO


@dataclass
class Failure:
    address: str
    hard: bool
    status: str = ""
    action: str = ""
    diagnostic: str = ""


@dataclass
class Result:
    kind: str
    failures: list[Failure] = field(default_factory=list)
    tokens: list[addresses.Parsed] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # communication ids named by the message
    complaint_address: str = ""
    detector: str = ""
    note: str = ""

    def token(self, kind: str) -> addresses.Parsed | None:
        return next((t for t in self.tokens if t.kind == kind), None)


# --------------------------------------------------------------------------- reading messages
def parse(raw: bytes) -> Message:
    """compat32, the policy flufl.bounce's detectors expect; headers are decoded where they are read."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def header(msg: Message, name: str) -> str:
    """A header as text: RFC 2047 words decoded, an unknown charset replaced rather than failing."""
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    try:
        parts = email.header.decode_header(str(value))
    except (email.errors.HeaderParseError, ValueError):
        return str(value)
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            text.append(decode_bytes(chunk, charset))
        else:
            text.append(chunk)
    return "".join(text).replace("\r", " ").replace("\n", " ").strip()


def decode_bytes(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "ascii")
    except (LookupError, UnicodeDecodeError):
        # an unknown or lying charset: UTF-8 with replacement keeps the text readable
        return data.decode("utf-8", errors="replace")


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return decode_bytes(payload, part.get_content_charset())


def body_text(msg: Message, *, limit: int = 200_000) -> str:
    """The message's text: the first text/plain part outside attached messages (HTML stripped when there
    is none)."""
    html = ""
    for part in _walk_own(msg):
        ctype = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            continue
        if ctype == "text/plain":
            return part_text(part).replace("\r\n", "\n").strip()[:limit]
        if ctype == "text/html" and not html:
            html = part_text(part)
    if html:
        return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", " ", html)).strip()[:limit]
    return ""


def _walk_own(msg: Message):
    """Parts of the message itself, not of messages attached to it."""
    yield msg
    if msg.is_multipart():
        for sub in msg.get_payload():
            if isinstance(sub, Message) and sub.get_content_maintype() != "message":
                yield from _walk_own(sub)


def addresses_in(msg: Message, *names: str) -> list[str]:
    values = [header(msg, name) for name in names]
    return [addr.lower() for _, addr in email.utils.getaddresses([v for v in values if v]) if "@" in addr]


def from_address(msg: Message) -> str:
    found = addresses_in(msg, "From")
    return found[0] if found else ""


def our_ids(text: str) -> list[str]:
    """Communication ids in Message-IDs of ours (`<id@COMMUNICATIONS_MESSAGE_ID_DOMAIN>`)."""
    domain = re.escape(settings.COMMUNICATIONS_MESSAGE_ID_DOMAIN)
    return re.findall(rf"<([0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})@{domain}>",
                      text or "", re.IGNORECASE)


def original_references(msg: Message) -> list[str]:
    """Communication ids of the original message attached to a bounce or report (message/rfc822 or
    text/rfc822-headers), or quoted in its text."""
    found: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        headers_of: Message | None = None
        if ctype == "message/rfc822":
            payload = part.get_payload()
            headers_of = payload[0] if isinstance(payload, list) and payload else None
        elif ctype == "text/rfc822-headers":
            headers_of = email.message_from_string(part_text(part), policy=email.policy.compat32)
        if headers_of is not None:
            ref = header(headers_of, "X-Communication-ID").lower()
            if re.fullmatch(r"[0-9a-f-]{36}", ref):
                found.append(ref)
            found.extend(i.lower() for i in our_ids(header(headers_of, "Message-ID")))
    if not found:  # many notices quote the original's headers in their text
        text = body_text(msg)
        match = re.search(r"X-Communication-ID:\s*([0-9a-f-]{36})", text, re.IGNORECASE)
        if match:
            found.append(match.group(1).lower())
        found.extend(i.lower() for i in our_ids(text))
    return list(dict.fromkeys(found))


def original_headers(msg: Message) -> Message | None:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        elif ctype == "text/rfc822-headers":
            return email.message_from_string(part_text(part), policy=email.policy.compat32)
    return None


# --------------------------------------------------------------------------- reports
def _report_blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = part_text(part) if not isinstance(payload, str) or part.get("Content-Transfer-Encoding") else payload
    blocks = [b for b in re.split(r"\r?\n\s*\r?\n", text or "") if b.strip()]
    return [email.message_from_string(b.strip() + "\n", policy=email.policy.compat32) for b in blocks]


def _address_field(value: str) -> str:
    """`rfc822; user@example.com` -> `user@example.com`."""
    value = (value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").lower()


def parse_dsn(msg: Message) -> list[Failure] | None:
    """RFC 3464: one Failure per recipient block (action failed or delayed, or a delivered/relayed one,
    returned with hard=False and its action). None when the message is no DSN."""
    if not msg.is_multipart():
        return None
    status_part = next((p for p in msg.walk() if p.get_content_type() in ("message/delivery-status",
                                                                          "message/global-delivery-status")), None)
    if status_part is None:
        return None
    blocks = _report_blocks(status_part)
    results = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        # the original recipient is the address we sent to; the final one may be where it was forwarded
        candidates = [_address_field(header(block, name)) for name in ("Original-Recipient", "Final-Recipient")]
        recipient = next((c for c in candidates if EMAIL.fullmatch(c)), "")
        if not recipient:
            continue
        action = header(block, "Action").lower().split()[0] if header(block, "Action") else ""
        status = header(block, "Status").split()[0] if header(block, "Status") else ""
        diagnostic = header(block, "Diagnostic-Code")
        if action in ("delivered", "relayed", "expanded"):
            results.append(Failure(recipient, hard=False, status=status, action=action, diagnostic=diagnostic))
            continue
        hard = action == "failed" and not status.startswith("4")
        results.append(Failure(recipient, hard=hard, status=status, action=action or "failed",
                               diagnostic=diagnostic[:500]))
    return results


def parse_arf(msg: Message) -> dict | None:
    """RFC 5965 feedback report: its fields (Feedback-Type, Original-Rcpt-To, ...), or None."""
    if msg.get_content_type() != "multipart/report":
        return None
    part = next((p for p in msg.walk() if p.get_content_type() == "message/feedback-report"), None)
    if part is None:
        return None
    fields: dict[str, str] = {}
    for block in _report_blocks(part):
        for name in block.keys():
            fields.setdefault(name.lower(), header(block, name))
    return fields


# --------------------------------------------------------------------------- predicates
def is_auto_reply(msg: Message) -> str:
    """The reason a message is an automatic reply, or ''."""
    auto = header(msg, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response"):
        if msg.get(name) is not None:
            return name
    precedence = header(msg, "Precedence").lower()
    if precedence in ("auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    suppress = header(msg, "X-Auto-Response-Suppress").lower()
    subject = header(msg, "Subject")
    if VACATION_SUBJECT.search(subject):
        return "vacation subject"
    if "oof" in suppress and header(msg, "X-MS-Exchange-Inbox-Rules-Loop"):
        return "Exchange out-of-office"
    return ""


def looks_like_bounce(msg: Message, envelope_from: str | None, tokens: list[addresses.Parsed]) -> bool:
    sender = from_address(msg)
    local = sender.split("@", 1)[0]
    null_sender = envelope_from is not None and envelope_from.strip("<> ") == ""
    return (null_sender or local in DAEMONS or any(t.kind == addresses.BOUNCE for t in tokens)
            or bool(BOUNCE_SUBJECT.search(header(msg, "Subject"))))


def ours(address: str) -> bool:
    host = address.rpartition("@")[2].lower()
    return host == addresses.domain() or host in {d.lower() for d in settings.INBOUND_DOMAINS}


def flufl_failures(msg: Message) -> tuple[list[Failure], str]:
    """Non-standard notices (Exchange, Yahoo, qmail, Postfix, Exim, ...) through flufl.bounce."""
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(msg)
    except Exception as exc:  # noqa: BLE001 - a detector tripping on odd input is not our crash
        logger.warning("bounce detection failed: %s", exc)
        return [], ""
    failures = [Failure(_decode_addr(a), hard=True, action="failed") for a in sorted(permanent)]
    failures += [Failure(_decode_addr(a), hard=False, action="delayed") for a in sorted(temporary - permanent)]
    return [f for f in failures if "@" in f.address], "flufl.bounce"


def _decode_addr(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip().strip("<>").lower()


def heuristic_failure(msg: Message) -> Failure | None:
    """Last resort for a bounce nothing recognised: an enhanced status code (5.x.x hard, 4.x.x soft) or an
    SMTP reply code in its text. The recipient is unknown here (the VERP token names it)."""
    text = body_text(msg)
    match = STATUS_CODE.search(text)
    if match and match.group(1) in "45":
        return Failure("", hard=match.group(1) == "5", status=".".join(match.groups()), action="failed",
                       diagnostic=text[max(0, match.start() - 120):match.end() + 200].strip()[:500])
    match = SMTP_REPLY.search(text)
    if match:
        return Failure("", hard=match.group(1) == "5", status=f"{match.group(1)}.0.0", action="failed",
                       diagnostic=text[max(0, match.start() - 60):match.end() + 200].strip()[:500])
    return None


# --------------------------------------------------------------------------- classification
def recipients_of(msg: Message, envelope_to: list[str]) -> list[str]:
    if envelope_to:
        return [a.strip("<> ").lower() for a in envelope_to]
    return addresses_in(msg, "Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def classify(msg: Message, *, envelope_to: list[str] | None = None, envelope_from: str | None = None) -> Result:
    rcpts = recipients_of(msg, envelope_to or [])
    tokens = [t for t in (addresses.parse(a) for a in dict.fromkeys(rcpts)) if t is not None]
    if not msg.keys() or not (msg.get("From") or msg.get("Message-ID") or msg.get("Content-Type")
                              or msg.get("Subject")):
        return Result(MALFORMED, tokens=tokens, note="no message headers")
    if header(msg, "X-Communication-ID") and our_ids(header(msg, "Message-ID")):
        return Result(LOOP, tokens=tokens, note="our own outgoing message came back")
    if len(msg.get_all("Received") or []) > MAX_RECEIVED:
        return Result(LOOP, tokens=tokens, note=f"more than {MAX_RECEIVED} Received headers")
    references = original_references(msg) if msg.is_multipart() or looks_like_bounce(msg, envelope_from, tokens) \
        else []

    arf = parse_arf(msg)
    if arf is not None:
        original = original_headers(msg)
        complained = _address_field(arf.get("original-rcpt-to", ""))
        if not complained and original is not None:
            complained = next(iter(addresses_in(original, "To")), "")
        return Result(COMPLAINT, tokens=tokens, references=references, complaint_address=complained,
                      detector="arf", note=arf.get("feedback-type", ""))

    dsn = parse_dsn(msg)
    if dsn is not None:
        problems = [f for f in dsn if f.action not in ("delivered", "relayed", "expanded")]
        if any(ours(f.address) for f in problems):
            return Result(LOOP, failures=problems, tokens=tokens, note="a bounce of our own bounce address")
        if not problems:
            return Result(DSN_OTHER, failures=dsn, tokens=tokens, references=references, detector="dsn")
        kind = HARD if any(f.hard for f in problems) else SOFT
        return Result(kind, failures=problems, tokens=tokens, references=references, detector="dsn")

    if any(t.kind == addresses.UNSUBSCRIBE for t in tokens):
        return Result(UNSUBSCRIBE, tokens=tokens)

    bounce_like = looks_like_bounce(msg, envelope_from, tokens)
    if bounce_like:
        failures, detector = flufl_failures(msg)
        if failures:
            if any(ours(f.address) for f in failures):
                return Result(LOOP, failures=failures, tokens=tokens, note="a bounce of our own bounce address")
            kind = HARD if any(f.hard for f in failures) else SOFT
            return Result(kind, failures=failures, tokens=tokens, references=references, detector=detector)

    reason = is_auto_reply(msg)
    if reason:
        return Result(AUTO_REPLY, tokens=tokens, references=references or _reply_references(msg), note=reason)

    if bounce_like and (references or any(t.kind == addresses.BOUNCE for t in tokens)):
        failure = heuristic_failure(msg)
        if failure is not None:
            return Result(HARD if failure.hard else SOFT, failures=[failure], tokens=tokens, references=references,
                          detector="heuristic")

    if any(t.kind == addresses.LOG for t in tokens):
        return Result(STAFF_LOG, tokens=tokens)
    replied = _reply_references(msg)
    if any(t.kind == addresses.REPLY for t in tokens) or replied:
        return Result(REPLY, tokens=tokens, references=replied)
    return Result(PERSON, tokens=tokens, references=references)


def _reply_references(msg: Message) -> list[str]:
    """Our ids in In-Reply-To first, then References from the newest (last) back."""
    ids = [i.lower() for i in our_ids(header(msg, "In-Reply-To"))]
    ids += [i.lower() for i in reversed(our_ids(header(msg, "References")))]
    return list(dict.fromkeys(ids))
