"""Human durations in the governance file: ``"60s"``, ``"5m"``, ``"24h"``, ``"1d"``, ``"1h30m"``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS: dict[str, timedelta] = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``"60s"``, ``"24h"`` or ``"1h30m"`` into a `timedelta`.

    Units: ``ms``, ``s``, ``m`` (minutes), ``h``, ``d``. Parts add up and may repeat in any order.

    Raises:
        ValueError: The text is not a positive duration in that form.
    """
    compact = text.strip().replace(" ", "")
    if not _WHOLE.fullmatch(compact):
        raise ValueError(f"invalid duration {text!r}; write for example 500ms, 60s, 5m, 24h or 1d")
    total = timedelta()
    for amount, unit in _PART.findall(compact):
        total += float(amount) * _UNITS[unit]
    if total <= timedelta():
        raise ValueError(f"duration {text!r} must be longer than zero")
    return total


def format_duration(value: timedelta) -> str:
    """Format a `timedelta` exactly, largest units first (``"1h30m"``, ``"60s"``)."""
    remaining = round(value.total_seconds() * 1000)
    if remaining == 0:
        return "0s"
    sign = "-" if remaining < 0 else ""
    remaining = abs(remaining)
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    if remaining:
        parts.append(f"{remaining}ms")
    return sign + "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("a duration is a string such as 60s, 5m or 24h")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be longer than zero")
        return timedelta(seconds=value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
]
"""A positive `timedelta` written as ``"60s"``, ``"24h"`` (or a number of seconds)."""
