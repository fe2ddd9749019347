"""Reading response headers and Retry-After, shared by budgets and error tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return header `name` from `headers`, matched case-insensitively."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a Retry-After value: delay seconds (``120``, ``2.0``) or an HTTP-date.

    Args:
        value: The header value, or None.
        now: The current wall time (from the Clock), for an HTTP-date.

    Returns:
        Seconds to wait (never negative), or None when `value` is missing or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
