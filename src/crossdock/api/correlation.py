"""Every request gets a correlation id, taken from ``X-Correlation-Id`` or made, and sends it back.

A pure ASGI middleware (no response buffering): it reads the request header, keeps a well-formed
value (letters, digits, ``-_.:``, at most 128 characters) or makes a new id, puts it in
``request.state.correlation_id``, binds it to every log line of the request, and adds it to the
response headers, whatever the route answers (404, 413 and 503 included).
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossdock.canonical.ids import new_id
from crossdock.observability.logging import bind_unit_of_work

__all__ = ["CORRELATION_HEADER", "CorrelationIdMiddleware", "correlation_id_of"]

CORRELATION_HEADER = "X-Correlation-Id"
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def accepted_correlation_id(value: str | None) -> str:
    """Return `value` when it is a well-formed correlation id, else a new id."""
    if value is not None and _WELL_FORMED.match(value):
        return value
    return new_id()


def correlation_id_of(request: Request) -> str:
    """Return the correlation id the middleware gave this request (a new id without it)."""
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) and value else new_id()


class CorrelationIdMiddleware:
    """Give each HTTP request a correlation id and echo it in ``X-Correlation-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-correlation-id":
                given = value.decode("latin-1").strip()
                break
        correlation_id = accepted_correlation_id(given)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        with bind_unit_of_work(correlation_id=correlation_id):
            await self.app(scope, receive, send_with_id)
