"""The secret token in the hook URL: ShipStation V1 webhooks are unsigned.

The hub gives ShipStation a target URL that ends in a random token (``…/shipstation/<token>``).
A delivery whose token is not one of the valid tokens (the current one and, during a rotation,
the previous one) is refused before anything is stored: the ingress answers 401.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

from crossdock.connectorkit import Secret
from crossdock.runtime.resilience import header

__all__ = ["HOOK_TOKEN_HEADER", "HookTokenRefusedError", "HookTokens", "new_hook_token"]

HOOK_TOKEN_HEADER: Final = "X-Crossdock-Hook-Token"  # noqa: S105 - a header name
"""Where an ingress that routes by path may hand the URL's token to `verify`."""


class HookTokenRefusedError(Exception):
    """A delivery whose URL token is missing or unknown; answer 401 and store nothing.

    Attributes:
        reason: ``"missing"`` or ``"unknown"``.
        status: The HTTP status the ingress answers (401).
    """

    status: Final = 401

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"shipstation hook token {reason}: delivery refused")


def new_hook_token() -> str:
    """A fresh URL-safe token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


class HookTokens:
    """The tokens valid now, compared in constant time.

    Args:
        tokens: The current token first, then any still accepted during a rotation.
    """

    def __init__(self, tokens: Iterable[str | Secret]) -> None:
        self._tokens = tuple(Secret.of(t) for t in tokens if Secret.of(t).reveal())

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def __repr__(self) -> str:
        return f"HookTokens({len(self._tokens)} token(s))"

    def check(self, token: str | None) -> None:
        """Accept ``token`` or raise.

        Raises:
            HookTokenRefusedError: The token is missing or matches none of the valid ones.
        """
        if not token:
            raise HookTokenRefusedError("missing")
        given = token.encode()
        matched = False
        for valid in self._tokens:
            matched |= hmac.compare_digest(given, valid.reveal().encode())
        if not matched:
            raise HookTokenRefusedError("unknown")

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """`check` the token an ingress copied into `HOOK_TOKEN_HEADER`."""
        self.check(header(headers, HOOK_TOKEN_HEADER))

    def url(self, endpoint: str) -> str:
        """The target URL to subscribe: ``endpoint`` followed by the current token.

        Raises:
            ValueError: No token is configured.
        """
        if not self._tokens:
            raise ValueError("no hook token is configured")
        return f"{endpoint.rstrip('/')}/{self._tokens[0].reveal()}"
