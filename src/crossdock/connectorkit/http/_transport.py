"""The transport port: how a prepared request becomes a response."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from crossdock.connectorkit.http._models import HttpRequest, HttpResponse


@runtime_checkable
class Transport(Protocol):
    """Sends one request within `request.timeout` and returns the complete response.

    Implementations raise `RequestNotSentError` when the server cannot have seen the request,
    and `AmbiguousRequestError` when it may have (a timeout or a broken connection after
    sending). They never raise for an HTTP status.
    """

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send `request` and return the response."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...
