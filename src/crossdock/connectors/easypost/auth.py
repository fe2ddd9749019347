"""EasyPost's auth: HTTP Basic with the API key as the user name and an empty password.

The kit's `BasicAuth` shows its user name in its repr; here the user name *is* the credential,
so this scheme keeps it a `Secret` throughout.
"""

from __future__ import annotations

import base64

from crossdock.connectorkit import Secret
from crossdock.connectorkit.http import HttpRequest

__all__ = ["ApiKeyAuth"]


class ApiKeyAuth:
    """``Authorization: Basic base64(<api key>:)``; a static key cannot be refreshed."""

    def __init__(self, api_key: str | Secret) -> None:
        key = Secret.of(api_key).reveal()
        if not key:
            raise ValueError("an EasyPost API key is required")
        self._value = Secret("Basic " + base64.b64encode(f"{key}:".encode()).decode("ascii"))

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key=Secret('***'))"

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Set the Authorization header."""
        return request.with_header("Authorization", self._value.reveal())

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """A refused key stays refused: no retry."""
        return False
