"""JSON as Salesforce writes it: currency and number fields as JSON numbers, exact digits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.responses import Response

_MARK = "\x00sf-number:"
_MARK_RE = re.compile(r'"\\u0000sf-number:([^"\\]*)\\u0000"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}\x00"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; a `Decimal` becomes a JSON number with its exact digits."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)
    return _MARK_RE.sub(r"\1", text).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded by `dumps`."""
    return Response(
        dumps(data),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json;charset=UTF-8",
    )
