"""`HttpClient`: the one client every connector uses, with a deadline on every call."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

from crossdock.connectorkit.http._errors import RequestNotSentError
from crossdock.connectorkit.http._models import HttpRequest, HttpResponse, encode_json
from crossdock.connectorkit.http._transport import Transport

_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
UNSET: Final[Any] = object()
"""Marks an argument not given (``json=None`` is a JSON null, not an absent body)."""

Params = Mapping[str, str | int] | Iterable[tuple[str, str | int]]


def rfc3986(value: str) -> str:
    """Percent-encode `value` per RFC 3986 (only ``A-Z a-z 0-9 - . _ ~`` stay as they are)."""
    return quote(value, safe="-._~")


def _query(params: Params) -> str:
    pairs = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{rfc3986(str(k))}={rfc3986(str(v))}" for k, v in pairs)


def _check_timeout(timeout: float) -> float:
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"a call needs a positive, finite timeout, not {timeout!r}")
    return float(timeout)


class HttpClient:
    """Builds requests and sends them through a `Transport`, each under a deadline.

    Every call has a deadline: the `timeout` argument, the absolute `deadline` (event-loop
    time, as `asyncio.get_running_loop().time()`), or else `default_timeout`; a missing or
    infinite one is refused, so a call can never hang forever.

    Args:
        transport: Where requests go (`AiohttpTransport` in production, `InProcessTransport`
            in tests).
        base_url: Prefix for relative URLs.
        default_timeout: Seconds a call may take when the caller gives no deadline.
        default_headers: Headers sent with every request (a call's own headers win).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str = "",
        default_timeout: float = 30.0,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.default_timeout = _check_timeout(default_timeout)
        self._default_headers = dict(default_headers or {})

    def url(self, url: str, params: Params | None = None) -> str:
        """Return the absolute URL for `url` (joined to `base_url` when relative) with `params`."""
        if "://" not in url.split("?", 1)[0]:
            if not self.base_url:
                raise ValueError(f"relative URL {url!r} needs a base_url")
            url = f"{self.base_url}/{url.lstrip('/')}"
        if params:
            query = _query(params)
            if query:
                url = f"{url}&{query}" if "?" in url else f"{url}?{query}"
        return url

    def build_request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        json: object = UNSET,
        content: bytes | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        idempotent: bool | None = None,
    ) -> HttpRequest:
        """Return the `HttpRequest` that `request` would send (auth not yet applied).

        Args:
            method: HTTP method (any case).
            url: Absolute URL, or a path joined to `base_url`.
            headers: Extra headers for this call.
            params: Query parameters, percent-encoded per RFC 3986 and appended to the URL.
            json: A JSON body (`Decimal` written as an exact number); excludes `content`.
            content: Raw body bytes; excludes `json`.
            timeout: Seconds this call may take.
            deadline: Absolute event-loop time by which the call must end.
            idempotent: Whether resending is safe; default true for GET, HEAD, OPTIONS, PUT,
                DELETE and for any request with an ``Idempotency-Key`` header.

        Raises:
            ValueError: For a bad timeout, both `json` and `content`, or a relative URL with
                no `base_url`.
            RequestNotSentError: When `deadline` has already passed.
        """
        method = method.upper()
        merged = {**self._default_headers, **(headers or {})}
        if json is not UNSET:
            if content is not None:
                raise ValueError("give json or content, not both")
            content = encode_json(json)
            if not any(k.lower() == "content-type" for k in merged):
                merged["Content-Type"] = "application/json"
        full_url = self.url(url, params)
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS or any(
                k.lower() == "idempotency-key" for k in merged
            )
        return HttpRequest(
            method=method,
            url=full_url,
            timeout=self._timeout(timeout, deadline, method, full_url),
            headers=merged,
            content=content,
            idempotent=idempotent,
        )

    def _timeout(
        self, timeout: float | None, deadline: float | None, method: str, url: str
    ) -> float:
        if deadline is not None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise RequestNotSentError(
                    "the deadline passed before sending", method=method, url=url
                )
            return min(left, _check_timeout(timeout)) if timeout is not None else left
        return _check_timeout(timeout) if timeout is not None else self.default_timeout

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send a prepared request through the transport (its timeout applies)."""
        return await self.transport.send(request)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        json: object = UNSET,
        content: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline per call is the contract
        deadline: float | None = None,
        idempotent: bool | None = None,
    ) -> HttpResponse:
        """Build and send one request; see `build_request` for the arguments.

        Returns:
            The response, whatever its status.

        Raises:
            RequestNotSentError: The server cannot have seen the request (safe to retry).
            AmbiguousRequestError: The request may have had its effect; settle before resending.
        """
        built = self.build_request(
            method,
            url,
            headers=headers,
            params=params,
            json=json,
            content=content,
            timeout=timeout,
            deadline=deadline,
            idempotent=idempotent,
        )
        return await self.transport.send(built)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
