"""Small pure helpers for mappers that turn source payloads into canonical entities.

Connectors import these (the core never imports connectors). Payloads are decoded with
`crossdock.canonical.money.decimal_json_loads`, so numbers with a fraction arrive as `Decimal`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from crossdock.canonical.money import MoneyError, to_decimal

__all__ = [
    "MappingError",
    "blank_to_none",
    "decimal",
    "quantity",
    "timestamp",
    "timestamp_or_none",
]


class MappingError(ValueError):
    """A source payload that cannot be mapped; the message names the field and the value."""


def blank_to_none(value: Any) -> str | None:
    """Return `value` as text, or None when it is None or blank ("" is how Shopify says "none")."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def quantity(value: Any, *, field: str) -> int:
    """Read a count of units: an int, or an integral decimal such as ``24.0`` (Salesforce, ERPs).

    Raises:
        MappingError: the value is fractional, a float, or not a number.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = to_decimal(value)
    except MoneyError as exc:
        raise MappingError(f"{field}: {exc}") from exc
    if number != number.to_integral_value():
        raise MappingError(f"{field}: fractional quantity {value!r} is not supported in v1")
    return int(number)


def timestamp(value: Any, *, field: str) -> datetime:
    """Read an ISO-8601 instant (``Z``, ``+00:00`` and Salesforce's ``+0000`` forms).

    A date without a time (``"2026-11-20"``) means midnight UTC of that day.

    Raises:
        MappingError: the value is missing or not an ISO-8601 date or date-time.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise MappingError(f"{field}: not an ISO-8601 date-time: {value!r}") from exc
    else:
        raise MappingError(f"{field}: expected an ISO-8601 date-time, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def timestamp_or_none(value: Any, *, field: str) -> datetime | None:
    """Like `timestamp`, but None or "" give None."""
    if value is None or value == "":
        return None
    return timestamp(value, field=field)


def decimal(value: Any, *, field: str) -> Decimal:
    """Read an exact number (Decimal, int or decimal string); floats are refused.

    Raises:
        MappingError: naming the field.
    """
    try:
        return to_decimal(value)
    except MoneyError as exc:
        raise MappingError(f"{field}: {exc}") from exc
