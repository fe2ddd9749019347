"""The auth-scheme protocol and the simple schemes (none, API token header, HTTP Basic)."""

from __future__ import annotations

import base64
from typing import Protocol, runtime_checkable

from crossdock.connectorkit.http import HttpRequest
from crossdock.connectorkit.secrets import Secret


@runtime_checkable
class AuthScheme(Protocol):
    """Applies credentials to a request, and refreshes them when the system says 401."""

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Return `request` with its credentials added."""
        ...

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """Refresh after a 401 on `request`; return whether one retry is worth making."""
        ...


class NoAuth:
    """No credentials (public endpoints, or a URL that carries its own secret token)."""

    def __repr__(self) -> str:
        return "NoAuth()"

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Return `request` unchanged."""
        return request

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """Nothing to refresh."""
        return False


class ApiTokenAuth:
    """A static token in a header, e.g. ``X-Shopify-Access-Token: shpat_…``.

    Args:
        token: The token.
        header: The header name.
        prefix: Text before the token (``"Bearer "`` for a static bearer token).
    """

    def __init__(
        self, token: str | Secret, *, header: str = "X-Shopify-Access-Token", prefix: str = ""
    ) -> None:
        self._token = Secret.of(token)
        self.header = header
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"ApiTokenAuth(header={self.header!r}, token={self._token!r})"

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Set the token header."""
        return request.with_header(self.header, f"{self.prefix}{self._token.reveal()}")

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """A static token cannot be refreshed."""
        return False


class BasicAuth:
    """HTTP Basic, e.g. ShipStation's ``base64(api_key:api_secret)``."""

    def __init__(self, username: str, password: str | Secret) -> None:
        self.username = username
        raw = f"{username}:{Secret.of(password).reveal()}".encode()
        self._value = Secret("Basic " + base64.b64encode(raw).decode("ascii"))

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=Secret('***'))"

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Set the Authorization header."""
        return request.with_header("Authorization", self._value.reveal())

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """Static credentials cannot be refreshed."""
        return False
