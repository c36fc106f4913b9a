"""Primary keys: time-ordered UUIDv7, so new rows land at the end of the primary-key index."""
import uuid

from uuid6 import uuid7 as _uuid7


def uuid7() -> uuid.UUID:
    return uuid.UUID(int=_uuid7().int)
