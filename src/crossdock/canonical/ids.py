"""Hub-generated identifiers: UUIDv7, so that ids sort by creation time."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> str:
    """Return a new time-ordered identifier (UUIDv7, canonical text form)."""
    return str(uuid7())


def new_uuid() -> uuid.UUID:
    """Return a new time-ordered identifier as a `uuid.UUID`."""
    return uuid7()


def is_hub_id(value: str) -> bool:
    """Tell whether `value` is an identifier this hub could have generated (a UUIDv7)."""
    try:
        return uuid.UUID(value).version == 7
    except ValueError:
        return False
