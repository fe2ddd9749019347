"""The flows inside the hub: a `FlowRunner` beside the decode worker, and its availability port.

`HubFlows` builds the flows the governance file enables (`flows_from_governance`) and drives
them with a `FlowRunner` until stopped. After a pass that put new commands in the outbox it wakes
the worker pool, so a decision reaches its system without waiting for the pool's idle poll.

Availability: the availability read model (issue 10) does not exist yet. `EventLogAvailability`
stands in for it with what the hub already knows: the latest ``inventory.changed`` level of each
SKU at each location, read from the event log as the runner goes (never a call to the ERP). A
SKU no source has reported is unknown, which the order flow quarantines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import StaleFlowState, Store, StoreUnavailable
from crossdock.canonical.events import EventType
from crossdock.flows.engine import FlowRunner
from crossdock.flows.registry import flows_from_governance
from crossdock.governance import Governance
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import RetryableError

__all__ = ["EventLogAvailability", "HubFlows"]

_PAGE: Final = 500


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.hub.flows")


@dataclass(frozen=True, slots=True)
class _Level:
    as_of: str
    available: int


class EventLogAvailability:
    """Available units per SKU: the latest ``inventory.changed`` of each (SKU, location).

    A small in-memory read model fed from the event log: each lookup first reads the events
    appended since the last one. Levels are absolute; at each location the newest ``as_of``
    wins (an older report arriving late changes nothing); a SKU's availability is the sum over
    its locations. A restart rebuilds it by reading the log again.

    Args:
        store: The store whose event log feeds it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._position = 0
        self._levels: dict[str, dict[str, _Level]] = {}
        self._lock = asyncio.Lock()

    @property
    def position(self) -> int:
        """The position of the last event read."""
        return self._position

    async def catch_up(self) -> int:
        """Read the events appended since the last call; return how many were read.

        Raises:
            RetryableError: The store cannot answer now (the flow step is retried).
        """
        async with self._lock:
            read = 0
            while True:
                try:
                    batch = await self._store.read_events(self._position, limit=_PAGE)
                except StoreUnavailable as exc:
                    raise RetryableError(
                        f"availability: the event log is unavailable: {exc}"
                    ) from exc
                for stored in batch:
                    if stored.event.type == EventType.INVENTORY_CHANGED:
                        self._apply(stored.event.data)
                    self._position = stored.position
                read += len(batch)
                if len(batch) < _PAGE:
                    return read

    def _apply(self, data: Mapping[str, Any]) -> None:
        sku, location, available = data.get("sku"), data.get("location"), data.get("available")
        if not isinstance(sku, str) or not isinstance(location, str):
            return
        try:
            units = int(available)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        as_of = _timestamp(data.get("as_of"))
        at = self._levels.setdefault(sku, {})
        current = at.get(location)
        if current is None or as_of >= current.as_of:
            at[location] = _Level(as_of, units)

    def levels(self, sku: str) -> dict[str, int]:
        """Return the known level of `sku` at each location (as of the last catch-up)."""
        return {loc: level.available for loc, level in self._levels.get(sku, {}).items()}

    async def available(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        """Return the available units of each SKU (None: no source has reported it)."""
        await self.catch_up()
        found: dict[str, int | None] = {}
        for sku in skus:
            at = self._levels.get(sku)
            found[sku] = None if not at else sum(level.available for level in at.values())
        return found


def _timestamp(value: object) -> str:
    # ISO 8601 text in UTC compares in time order; anything else sorts first.
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, str) else ""


class HubFlows:
    """The flows the governance file enables, driven by one `FlowRunner`.

    Args:
        store: The hub's store.
        governance: The loaded governance file.
        on_commands: Called after a pass that put new commands in the outbox (wake the pool).
        name: The runner's name (its checkpoint key).
        idle_seconds: How long to wait when the log is drained.
    """

    def __init__(
        self,
        store: Store,
        governance: Governance,
        *,
        on_commands: Callable[[], None] | None = None,
        name: str = "hub",
        idle_seconds: float = 0.1,
    ) -> None:
        self.availability = EventLogAvailability(store)
        self.flows = flows_from_governance(governance, availability=self.availability)
        self.runner = FlowRunner(store, self.flows, name=name)
        self._on_commands = on_commands
        self._idle = idle_seconds
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def names(self) -> list[str]:
        """The names of the flows being driven."""
        return [flow.name for flow in self.flows]

    def notify(self) -> None:
        """Wake an idle runner at once (new events were appended)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Finish the current pass, then return from `run`."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Drive the flows until `request_stop`; a failed pass is logged and tried again."""
        _log().info("flows started", flows=self.names)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                read = await self.runner.run_once()
            except (StoreUnavailable, StaleFlowState, RetryableError) as exc:
                _log().warning("flow step not committed; retrying", error=str(exc))
                read = 0
            except Exception:
                # A store error the runner did not expect: never end the hub's flows for it.
                _log().exception("flow pass failed; retrying")
                read = 0
            if any(outcome.created for outcome in self.runner.outcomes) and self._on_commands:
                self._on_commands()
            if read == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle)
        _log().info("flows stopped")
