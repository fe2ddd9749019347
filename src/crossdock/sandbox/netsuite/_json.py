"""JSON as NetSuite writes it: amounts are JSON numbers, written from `Decimal` digit for digit.

(The kit's `dumps` writes a `Decimal` as a string, which is right for Shopify's money but not
for NetSuite, whose ``rate``, ``amount`` and totals are numbers.)
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_MARK = "\x00ns-decimal:"
_MARKED = re.compile(r'"\\u0000ns-decimal:([^"\\]*)\\u0000"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return f"{_MARK}{value}\x00"
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON with every `Decimal` as an exact JSON number."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)
    return _MARKED.sub(r"\1", text).encode()
