"""JSON as ShipStation writes it: money as exact JSON numbers (``12.5``), never strings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.responses import Response

_MARK = "\x00ss-decimal:"
_MARKED = re.compile(r'"\\u0000ss-decimal:([^"\\]*)\\u0000"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return f"{_MARK}{value}\x00"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; a `Decimal` becomes the JSON number with exactly its digits."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)
    return _MARKED.sub(r"\1", text).encode()


def loads(raw: bytes) -> Any:
    """Decode JSON with every number that has a fraction as a `Decimal`."""
    return json.loads(raw, parse_float=Decimal)


def respond(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response encoded by `dumps`."""
    return Response(
        dumps(data),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json; charset=utf-8",
    )
