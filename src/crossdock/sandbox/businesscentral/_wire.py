"""Business Central's wire details: the error shape, exact JSON numbers, weak ETags, timestamps."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

_MARK = "\x00bc-decimal:"
_MARK_RE = re.compile(r'"\\u0000bc-decimal:([^"\\]*)\\u0000"')
ENTITY_CHANGED_MESSAGE = "Another user has already changed the record."


class ODataError(Exception):
    """A Business Central error: ``{"error": {"code", "message"}}`` with its HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The error as Business Central answers it."""
        return odata_response(error_body(self.code, self.message), self.status, self.headers)


def error_body(code: str, message: str) -> dict[str, Any]:
    """``{"error": {"code", "message"}}`` (the message ends with a correlation id, as BC's do)."""
    return {"error": {"code": code, "message": f"{message}  CorrelationId:  sandbox."}}


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}\x00"
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON in which a `Decimal` is a JSON number with exactly its digits."""
    text = json.dumps(data, default=_default, ensure_ascii=False, separators=(",", ":"))
    return _MARK_RE.sub(r"\1", text).encode()


def odata_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response as Business Central sends it (``odata.metadata=minimal``)."""
    return Response(
        dumps(data),
        status_code=status,
        headers={"OData-Version": "4.0", **(headers or {})},
        media_type="application/json; odata.metadata=minimal; odata.streaming=true",
    )


def iso(moment: datetime) -> str:
    """``2026-11-22T10:41:07.433Z``: UTC, milliseconds, a ``Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_datetime(text: str) -> datetime:
    """Read an OData ``DateTimeOffset`` literal (``Z`` or an offset; fraction optional).

    Raises:
        ValueError: The text is not a timestamp with a zone.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)


def etag(entity_id: str, version: int) -> str:
    """A weak ETag shaped like BC's (``W/"JzQ0O…Jw=="``: base64 of ``'<len>;<key>;<version>;'``)."""
    inner = f"{len(entity_id)};{entity_id};{version};"
    token = base64.b64encode(f"'{inner}'".encode()).decode("ascii")
    return f'W/"{token}"'
