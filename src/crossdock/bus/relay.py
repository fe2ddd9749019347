"""`EventRelay`: publishes the store's event log to an `EventBus`, in log order, at least once.

The position published so far is a flow state in the store (``bus.relay``, key = the relay's
name), saved with compare-and-set after each batch the bus acknowledged: two relays of the same
name never both advance it, and a relay killed between a publication and its checkpoint
publishes that batch again, which the bus drops by message id inside its duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import StaleFlowState, Store, StoreUnavailable
from crossdock.bus.port import BusUnavailable, EventBus
from crossdock.observability.logging import get_logger

__all__ = ["RELAY_FLOW", "EventRelay"]

RELAY_FLOW: Final = "bus.relay"


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.bus.relay")


class EventRelay:
    """Copies the event log to a bus from a checkpoint.

    Args:
        store: The store whose event log is published.
        bus: Where to publish.
        name: The checkpoint's key (one per bus a hub publishes to).
        batch: Events read and published per step.
        idle_seconds: How long `run` waits when the log is drained (it polls the log: a
            relay may run in another process than the writers).
    """

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        name: str = "main",
        batch: int = 500,
        idle_seconds: float = 0.2,
    ) -> None:
        self._store = store
        self._bus = bus
        self.name = name
        self.batch = batch
        self._idle = idle_seconds
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.published = 0
        self.duplicates = 0

    async def position(self) -> int:
        """The log position published and checkpointed so far."""
        found = await self._store.get_flow_state(RELAY_FLOW, self.name)
        return int(found.state.get("position", 0)) if found else 0

    async def step(self) -> int:
        """Publish the next batch after the checkpoint; return how many events it held.

        Raises:
            BusUnavailable: The bus refused a publication (nothing after it was published).
            StaleFlowState: Another relay of this name advanced the checkpoint first.
            StoreUnavailable: The store cannot answer.
        """
        found = await self._store.get_flow_state(RELAY_FLOW, self.name)
        after = int(found.state.get("position", 0)) if found else 0
        version = found.version if found else 0
        events = await self._store.read_events(after, limit=self.batch)
        if not events:
            return 0
        for stored in events:  # in order: a later event never precedes an earlier one
            ack = await self._bus.publish(stored.event)
            self.published += not ack.duplicate
            self.duplicates += ack.duplicate
        async with self._store.transaction() as tx:
            await tx.save_flow_state(
                RELAY_FLOW, self.name, {"position": events[-1].position}, version
            )
        return len(events)

    def request_stop(self) -> None:
        """Finish the current step, then return from `run`."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until `request_stop`; failures are logged and retried, never fatal."""
        delay = self._idle
        while not self._stop.is_set():
            self._wake.clear()
            try:
                sent = await self.step()
                delay = self._idle
            except (BusUnavailable, StoreUnavailable, StaleFlowState) as exc:
                _log().warning("relay step not done; retrying", relay=self.name, error=str(exc))
                sent = 0
                delay = min(delay * 2, 5.0)
            except Exception:
                _log().exception("relay step failed; retrying", relay=self.name)
                sent = 0
                delay = min(delay * 2, 5.0)
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
