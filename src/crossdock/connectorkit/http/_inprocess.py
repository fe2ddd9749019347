"""The test transport: requests go straight to an ASGI app or a handler function in this process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any
from urllib.parse import unquote, urlsplit

from crossdock.connectorkit.http._errors import AmbiguousRequestError, RequestNotSentError
from crossdock.connectorkit.http._models import HttpRequest, HttpResponse, make_headers

ASGIMessage = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[ASGIMessage]]
ASGISend = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], ASGIReceive, ASGISend], Awaitable[None]]
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

# The original request rides in the scope so a handler function sees it exactly as sent.
_REQUEST_KEY = "crossdock.request"


class InProcessTransport:
    """A `Transport` that calls an ASGI app in-process (like httpx's `ASGITransport`).

    It keeps the seam's contract: the call's timeout applies (a hanging app gives
    `AmbiguousRequestError`), an exception in the app becomes a 500 response as a real server
    would send, and a host outside `hosts` gives `RequestNotSentError` (nothing listens there).

    Args:
        app: The ASGI application (for example a sandbox simulator).
        hosts: Host names routed to the app; None routes every host.
    """

    def __init__(self, app: ASGIApp, *, hosts: Collection[str] | None = None) -> None:
        self._app = app
        self._hosts = frozenset(h.lower() for h in hosts) if hosts is not None else None

    @classmethod
    def from_handler(
        cls, handler: Handler, *, hosts: Collection[str] | None = None
    ) -> InProcessTransport:
        """Build a transport whose server is a function from `HttpRequest` to `HttpResponse`."""
        return cls(_handler_app(handler), hosts=hosts)

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Run the app for `request` under its timeout; see `Transport.send`."""
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        if self._hosts is not None and host not in self._hosts:
            raise RequestNotSentError(
                f"no in-process server for host {host!r}", method=request.method, url=request.url
            )
        exchange = _Exchange(request)
        deadline = asyncio.timeout(request.timeout)
        try:
            async with deadline:
                await self._app(exchange.scope(parts), exchange.receive, exchange.send)
        except TimeoutError as exc:
            if deadline.expired():
                message = f"no complete response within {request.timeout:g} s"
                raise AmbiguousRequestError(
                    message, method=request.method, url=request.url, timed_out=True
                ) from exc
            if not exchange.started:
                return _server_error(request.url)
        except Exception:
            if not exchange.started:  # a real server answers 500 when the app fails
                return _server_error(request.url)
        return exchange.response(request.url)

    async def aclose(self) -> None:
        """Nothing to release."""


def _server_error(url: str) -> HttpResponse:
    return HttpResponse(500, make_headers(), b"Internal Server Error", url)


class _Exchange:
    """One ASGI request/response exchange."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._body_sent = False
        self.started = False
        self._status = 500
        self._headers: list[tuple[str, str]] = []
        self._chunks: list[bytes] = []
        self._done = asyncio.Event()

    def scope(self, parts: Any) -> MutableMapping[str, Any]:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in self._request.headers.items()
        ]
        if not any(k == b"host" for k, _ in headers):
            headers.insert(0, (b"host", parts.netloc.encode("idna")))
        if self._request.content is not None:
            headers.append((b"content-length", str(len(self._request.content)).encode()))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self._request.method,
            "scheme": parts.scheme,
            "path": unquote(parts.path) or "/",
            "raw_path": (parts.path or "/").encode("ascii"),
            "query_string": parts.query.encode("ascii"),
            "root_path": "",
            "headers": headers,
            "server": (parts.hostname or "", port),
            "client": ("127.0.0.1", 50000),
            "state": {},
            "extensions": {_REQUEST_KEY: self._request},
        }

    async def receive(self) -> ASGIMessage:
        if not self._body_sent:
            self._body_sent = True
            body = self._request.content or b""
            return {"type": "http.request", "body": body, "more_body": False}
        await self._done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: ASGIMessage) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self._status = int(message["status"])
            self._headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            self._chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._done.set()

    def response(self, url: str) -> HttpResponse:
        return HttpResponse(self._status, make_headers(self._headers), b"".join(self._chunks), url)


def _handler_app(handler: Handler) -> ASGIApp:
    async def app(scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        request: HttpRequest = scope["extensions"][_REQUEST_KEY]
        response = await handler(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})

    return app
