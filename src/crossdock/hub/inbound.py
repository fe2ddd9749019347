"""`ConnectorInbound`: a connector's inbound side, as the ingress API sees it (`InboundSystem`)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from crossdock.backbone.store import Delivery
from crossdock.canonical.envelope import Event
from crossdock.connectorkit import Connector, Secret

__all__ = ["ConnectorInbound", "DedupeKey"]

DedupeKey = Callable[[Mapping[str, str], bytes], str | None]
"""Compute a delivery's dedupe key from its headers and raw bytes (None or raise: none found)."""

_NEVER_KEPT = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class ConnectorInbound:
    """Adapts one configured system's connector to the ingress.

    Attributes:
        name: The system's name in the governance file (``/hooks/{name}``, the inbox source).
        connector: Verifies signatures (`Connector.verify`) and decodes (`Connector.decode`).
        dedupe: Computes the dedupe key (for example the Shopify event id).
        keep_prefixes: Lower-case header-name prefixes stored with the delivery.
        keep_names: Lower-case header names stored with the delivery.
        url_token: The secret expected in the URL (``/hooks/{name}/{token}`` or ``?token=``),
            for systems that sign nothing; None when the URL carries no secret.
        signed: False when the connector signs nothing and the URL token is the only check.
    """

    name: str
    connector: Connector
    dedupe: DedupeKey
    keep_prefixes: tuple[str, ...] = ()
    keep_names: frozenset[str] = field(default_factory=lambda: frozenset({"content-type"}))
    url_token: Secret | None = None
    signed: bool = True

    def __post_init__(self) -> None:
        if not self.signed and self.url_token is None:
            raise ValueError(f"{self.name}: an unsigned inbound system needs a URL token")

    async def verify(self, headers: Mapping[str, str], body: bytes, token: str | None) -> bool:
        """Check the URL token (when one is configured), then the signature (when signed)."""
        if self.url_token is not None:
            expected = self.url_token.reveal().encode()
            if token is None or not hmac.compare_digest(token.encode(), expected):
                return False
        if not self.signed:
            return True
        return await self.connector.verify(headers, body)

    def dedupe_key(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """Return the connector's dedupe key, or None when the delivery carries none."""
        try:
            key = self.dedupe(headers, body)
        except Exception:  # a malformed body: keyed by its hash, stored, then dead-lettered
            return None
        return key or None

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return the headers named by `keep_names` or `keep_prefixes` (never credentials)."""
        kept: dict[str, str] = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered in _NEVER_KEPT:
                continue
            if lowered in self.keep_names or lowered.startswith(self.keep_prefixes):
                kept[lowered] = value
        return kept

    async def decode(self, delivery: Delivery) -> Sequence[Event]:
        """Decode with the connector."""
        return await self.connector.decode(delivery)
