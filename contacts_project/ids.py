"""Primary keys: time-ordered UUIDv7, so new rows land at the end of the primary-key index."""
import secrets
import time
import uuid

from uuid6 import uuid7 as _uuid7


def uuid7() -> uuid.UUID:
    return uuid.UUID(int=_uuid7().int)


def uuid7_hex_block(count: int) -> list[str]:
    """`count` UUIDv7 values in increasing order, as 32 hex digits (PostgreSQL's uuid input takes them),
    for bulk loads: one clock read and a counter instead of a clock read and a random draw per id."""
    millis = time.time_ns() // 1_000_000
    counter = secrets.randbits(73)  # 74 counter bits (rand_a, rand_b): room to add `count` without overflow
    head = (millis << 80) | (0x7 << 76) | (0b10 << 62)
    low_mask = (1 << 62) - 1
    return [f"{head | ((c >> 62) << 64) | (c & low_mask):032x}" for c in range(counter, counter + count)]


def parse_uuid(value) -> uuid.UUID | None:
    """The UUID that `value` spells, or None for anything that is not one (a bad id in a URL or body is a 404/400,
    never a 500)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# A UUID as any form uuid.UUID() reads (hyphens optional, either case), for URL patterns and routers
UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class UUIDTextConverter:
    """`<uuid_text:contact_id>`: matches only a UUID, handed to the view as text (views parse it). Because an id
    segment can never be a word, fixed routes such as `contacts/imports/` and `contacts/{id}/…` cannot shadow each
    other, whatever order the URL modules are included in."""

    regex = UUID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)
