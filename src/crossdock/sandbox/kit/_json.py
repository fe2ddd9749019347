"""JSON responses that keep money exact: Decimal is written as its digits, never through float."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    """Encode ``data`` as compact UTF-8 JSON (non-ASCII kept as raw UTF-8, as real systems send)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded by `dumps`."""
    return Response(
        dumps(data),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json; charset=utf-8",
    )
