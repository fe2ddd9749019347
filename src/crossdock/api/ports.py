"""What the experience layer needs from the rest of the hub, as protocols.

The API never imports a connector: the composition root (`crossdock.hub`) adapts each
connector of a configured system to `InboundSystem` and hands the API a mapping of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from crossdock.backbone.store import Delivery
from crossdock.canonical.envelope import Event

__all__ = ["InboundSystem", "Readiness", "ReadinessProbe"]


class InboundSystem(Protocol):
    """One configured system that sends deliveries to ``POST /hooks/{name}``."""

    @property
    def name(self) -> str:
        """The system's name in the governance file; also the inbox source."""
        ...

    async def verify(self, headers: Mapping[str, str], body: bytes, token: str | None) -> bool:
        """Tell whether a delivery is authentic.

        Args:
            headers: The request headers (names in any case).
            body: The raw bytes, exactly as received.
            token: The secret token from the URL (``/hooks/{name}/{token}`` or ``?token=``),
                for systems that sign nothing (ShipStation V1); None when absent.
        """
        ...

    def dedupe_key(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """Return the sender's delivery id (a redelivery carries the same), or None.

        None means the delivery carries no usable id (a malformed body, say): the ingress
        then keys it by a hash of its bytes, stores it, and the decoder dead-letters it.
        """
        ...

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return the headers worth storing with the delivery (never a secret)."""
        ...

    async def decode(self, delivery: Delivery) -> Sequence[Event]:
        """Turn a stored delivery into canonical events (raises when it cannot)."""
        ...


@dataclass(frozen=True, slots=True)
class Readiness:
    """The answer of a readiness probe: ready, or the reasons it is not."""

    ready: bool
    reasons: Sequence[str] = field(default_factory=tuple)
    detail: Mapping[str, object] = field(default_factory=dict)


ReadinessProbe = Callable[[], Awaitable[Readiness]]
"""An async function telling whether the hub can take traffic (store reachable, schema current)."""
