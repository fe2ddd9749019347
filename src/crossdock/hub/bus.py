"""The hub's bus relay: every event of the log published to NATS JetStream when configured.

``[hub] bus_url = "nats://host:port"`` (or ``CROSSDOCK_BUS_URL``) turns it on. The hub still
runs when the bus is unreachable at start: the relay connects in the background, retrying, and
publishes from its checkpoint once it can (the log is the source of truth; the bus a copy).
"""

from __future__ import annotations

import asyncio
import contextlib

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import Store
from crossdock.bus import BusUnavailable, EventBus, EventRelay
from crossdock.observability.logging import get_logger

__all__ = ["BusRelay"]


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.hub.bus")


class BusRelay:
    """Connects to the bus (retrying) and runs an `EventRelay` until stopped.

    Args:
        store: The hub's store.
        url: The NATS server's URL.
        retry_seconds: The longest wait between connection attempts.
    """

    def __init__(self, store: Store, url: str, *, retry_seconds: float = 5.0) -> None:
        self._store = store
        self.url = url
        self._retry = retry_seconds
        self._stop = asyncio.Event()
        self.bus: EventBus | None = None
        self.relay: EventRelay | None = None

    def request_stop(self) -> None:
        """Stop connecting or publishing; `run` returns."""
        self._stop.set()
        if self.relay is not None:
            self.relay.request_stop()

    async def _connect(self) -> EventBus | None:
        from crossdock.bus.nats import JetStreamBus  # the nats extra, only when configured

        delay = 0.2
        while not self._stop.is_set():
            try:
                return await JetStreamBus.connect(self.url)
            except BusUnavailable as exc:
                _log().warning("bus unreachable; retrying", url=self.url, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, self._retry)
        return None

    async def run(self) -> None:
        """Connect, then publish the log until `request_stop`."""
        bus = await self._connect()
        if bus is None:
            return
        self.bus = bus
        self.relay = EventRelay(self._store, bus)
        if self._stop.is_set():
            self.relay.request_stop()
        _log().info("bus relay started", url=self.url)
        try:
            await self.relay.run()
        finally:
            await bus.close()
            _log().info("bus relay stopped", published=self.relay.published)
