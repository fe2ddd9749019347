"""The request and response values that cross the seam, and JSON with exact decimals."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from multidict import CIMultiDict, CIMultiDictProxy

_DECIMAL_MARK = "\x00crossdock-decimal:"
_DECIMAL_RE = re.compile(r'"\\u0000crossdock-decimal:([^"\\]*)\\u0000"')


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return f"{_DECIMAL_MARK}{value}\x00"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_json(value: object) -> bytes:
    """Encode `value` as compact UTF-8 JSON; a `Decimal` becomes an exact JSON number.

    Datetimes and dates become ISO 8601 strings, UUIDs their text. A connector that must send
    money as a string (Shopify) passes `str(amount)` itself.

    Raises:
        TypeError: For a value JSON cannot hold.
        ValueError: For a NaN or infinite `Decimal`.
    """
    text = json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
    if "\\u0000crossdock-decimal:" in text:
        text = _DECIMAL_RE.sub(r"\1", text)
    return text.encode()


def decode_json(raw: bytes | str) -> Any:
    """Decode JSON with every non-integer number as a `Decimal` (never a binary float)."""
    return json.loads(raw, parse_float=Decimal)


_SENSITIVE_PARTS = ("authorization", "token", "secret", "key", "signature", "cookie", "password")


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SENSITIVE_PARTS)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, ready to send. Auth schemes return a changed copy (`with_headers`).

    Attributes:
        method: Upper-case HTTP method.
        url: Absolute URL, query string included and already percent-encoded (RFC 3986).
        headers: Request headers (an auth scheme adds its own).
        content: The body bytes, or None.
        timeout: Seconds this call may take in all; always positive and finite.
        idempotent: Whether resending it after an ambiguous outcome is safe.
    """

    method: str
    url: str
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    idempotent: bool = False

    def __repr__(self) -> str:
        shown = {k: ("***" if _sensitive(k) else v) for k, v in self.headers.items()}
        size = len(self.content) if self.content is not None else 0
        return (
            f"HttpRequest({self.method} {self.url}, headers={shown}, "
            f"content={size} bytes, timeout={self.timeout:g})"
        )

    def with_headers(self, **extra: str) -> HttpRequest:
        """Return a copy with `extra` headers added (use `with_header` for names with dashes)."""
        return replace(self, headers={**self.headers, **extra})

    def with_header(self, name: str, value: str) -> HttpRequest:
        """Return a copy with the header `name` set to `value` (replacing any case variant)."""
        kept = {k: v for k, v in self.headers.items() if k.lower() != name.lower()}
        kept[name] = value
        return replace(self, headers=kept)

    def header(self, name: str) -> str | None:
        """Return the value of header `name`, matched case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def host(self) -> str:
        """The host part of the URL (without port)."""
        return urlsplit(self.url).hostname or ""


def make_headers(pairs: Mapping[str, str] | list[tuple[str, str]] | None = None) -> Headers:
    """Return an immutable, case-insensitive header mapping."""
    return CIMultiDictProxy(CIMultiDict(pairs or {}))


Headers = CIMultiDictProxy[str]
"""Response headers: an immutable mapping whose keys match case-insensitively."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response of any status.

    Attributes:
        status: The HTTP status code.
        headers: Case-insensitive response headers.
        content: The whole body.
        url: The URL that was requested.
    """

    status: int
    headers: Headers
    content: bytes
    url: str = ""

    def json(self) -> Any:
        """Decode the body as JSON with `Decimal` numbers.

        Raises:
            ValueError: When the body is not JSON.
        """
        return decode_json(self.content)

    def json_or_none(self) -> Any:
        """Decode the body as JSON, or return None when it is empty or not JSON."""
        if not self.content:
            return None
        try:
            return decode_json(self.content)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300
