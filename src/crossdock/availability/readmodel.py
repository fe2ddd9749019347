"""The available-to-promise read model: an in-memory cache fed from the event log.

Each ``inventory.changed`` event gives an absolute level of one SKU at one location. The newest
level wins by version (the source's ``as_of``, then the event's log position), so the same set
of events gives the same model whatever order they arrive in. Lookups are one dictionary read:
they never touch the store, let alone the ERP. The log position read so far and the levels are
checkpointed in the store (flow state ``availability.snapshot``), so a restart reloads the
snapshot and reads only the events after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol

from pydantic import ValidationError

from crossdock.availability.model import (
    DEFAULT_CHANNEL,
    Availability,
    AvailabilitySettings,
    Level,
    SourceFreshness,
    location_key,
)
from crossdock.backbone.store import StaleFlowState, Store, StoredEvent, StoreUnavailable
from crossdock.canonical.events import EventType
from crossdock.canonical.inventory import InventoryLevel
from crossdock.observability.logging import get_logger
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.errors import RetryableError

__all__ = ["SNAPSHOT_FLOW", "AvailabilityReadModel", "BreakerLike", "ChangeListener"]

ChangeListener = Callable[[str, str], None]
"""Told ``(sku, location)`` whenever the available-to-promise there may have changed."""

EchoListener = Callable[[InventoryLevel], None]
"""Told every level reported by an ignored (channel) source: our own writes coming back."""

SNAPSHOT_FLOW: Final = "availability.snapshot"
_PAGE: Final = 500
_INVENTORY: Final = EventType.INVENTORY_CHANGED.value


class BreakerLike(Protocol):
    """What the model needs of a circuit breaker (`CircuitBreaker` fits)."""

    async def state(self) -> Any:
        """Return the breaker's state (``"open"`` when the system is considered down)."""
        ...


async def _either(first: asyncio.Event, second: asyncio.Event, seconds: float) -> None:
    """Wait until one of two events is set, or `seconds`."""
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class AvailabilityReadModel:
    """Available-to-promise per SKU, location and channel, served from memory.

    Args:
        store: The store whose event log feeds the model and that keeps its checkpoint.
        settings: Safety stock, channel buffers, latency target, ignored (echo) sources.
        clock: Gives the answers' time (ages are measured against it).
        name: The checkpoint's key (models with different names keep separate checkpoints).
        erp_breakers: The breakers of the ERP destinations; while one is open every answer
            is marked stale.
    """

    def __init__(
        self,
        store: Store,
        settings: AvailabilitySettings | None = None,
        *,
        clock: Clock | None = None,
        name: str = "main",
        erp_breakers: Sequence[BreakerLike] = (),
    ) -> None:
        self._store = store
        self.settings = settings or AvailabilitySettings()
        self._clock = clock or SystemClock()
        self.name = name
        self._breakers = list(erp_breakers)
        self._levels: dict[str, Level] = {}
        self._sources: dict[str, dict[str, datetime]] = {}
        self._locations: dict[str, dict[str, None]] = {}
        self._reserved: dict[str, int] = {}
        self._position = 0
        self._snapshot_version = 0
        self._erp_down = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listeners: list[ChangeListener] = []
        self._echo_listeners: list[EchoListener] = []
        self.rejected = 0
        """Inventory events that could not be read (kept in the log, skipped here)."""
        self._log = get_logger("crossdock.availability", model=name)

    # ---- state --------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store that feeds the model."""
        return self._store

    @property
    def position(self) -> int:
        """The log position of the last event applied."""
        return self._position

    @property
    def erp_down(self) -> bool:
        """Whether an ERP breaker was open at the last health refresh."""
        return self._erp_down

    def set_erp_down(self, down: bool) -> None:
        """Mark the ERP as down or up (what `refresh_health` does from the breakers)."""
        self._erp_down = down

    def skus(self) -> list[str]:
        """Return every SKU with at least one known level."""
        return list(self._locations)

    def locations(self, sku: str) -> list[str]:
        """Return the locations with a known level of `sku`, in the order first seen."""
        return list(self._locations.get(sku, ()))

    def level(self, sku: str, location: str) -> Level | None:
        """Return the newest level of `sku` at `location`."""
        return self._levels.get(location_key(sku, location))

    def set_reserved(self, sku: str, location: str, units: int) -> None:
        """Record the units the hub holds for open orders (called by `Reservations`)."""
        key = location_key(sku, location)
        if self._reserved.get(key, 0) != units:
            self._reserved[key] = units
            self._notify(sku, location)

    def notify(self) -> None:
        """Wake `run` at once (new events were appended)."""
        self._wake.set()

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener(sku, location)` after every change of a level or reserved total."""
        self._listeners.append(listener)

    def add_echo_listener(self, listener: EchoListener) -> None:
        """Call `listener(level)` for every level an ignored (channel) source reports."""
        self._echo_listeners.append(listener)

    def _notify(self, sku: str, location: str) -> None:
        for listener in self._listeners:
            listener(sku, location)

    # ---- applying events ----------------------------------------------------------------

    def apply(self, stored: StoredEvent) -> bool:
        """Apply one event from the log; return True when it changed a level.

        Events other than ``inventory.changed``, events from ignored sources, and levels
        older than the one held change nothing. A level that cannot be read is counted in
        `rejected` and skipped (it stays in the log for an operator).
        """
        if stored.position > self._position:
            self._position = stored.position
        event = stored.event
        if event.type != _INVENTORY:
            return False
        try:
            level = InventoryLevel.model_validate(event.data)
        except ValidationError as exc:
            self.rejected += 1
            self._log.warning("inventory event skipped", position=stored.position, error=str(exc))
            return False
        if self.settings.ignores(level.source):
            for echo in self._echo_listeners:
                echo(level)
            return False
        return self.apply_level(level, stored.position)

    def apply_level(self, level: InventoryLevel, position: int) -> bool:
        """Apply one absolute level with its version tie-breaker; True when it is the newest."""
        key = location_key(level.sku, level.location)
        seen = self._sources.setdefault(key, {})
        previous = seen.get(level.source)
        if previous is None or level.as_of > previous:
            seen[level.source] = level.as_of
        candidate = Level(level.on_hand, level.available, level.as_of, level.source, position)
        current = self._levels.get(key)
        if current is not None and candidate.version <= current.version:
            return False
        self._levels[key] = candidate
        self._locations.setdefault(level.sku, {})[level.location] = None
        self._notify(level.sku, level.location)
        return True

    async def catch_up(self) -> int:
        """Read and apply the events appended since the last call; return how many were read.

        Raises:
            RetryableError: The store cannot answer now.
        """
        async with self._lock:
            read = 0
            while True:
                try:
                    batch = await self._store.read_events(self._position, limit=_PAGE)
                except StoreUnavailable as exc:
                    raise RetryableError(f"availability: event log unavailable: {exc}") from exc
                for stored in batch:
                    self.apply(stored)
                read += len(batch)
                if len(batch) < _PAGE:
                    return read

    # ---- answers ------------------------------------------------------------------------

    def lookup(
        self, sku: str, location: str, channel: str = DEFAULT_CHANNEL
    ) -> Availability | None:
        """Return the available-to-promise of `sku` at `location` for `channel` (None: unknown).

        Never touches the store or the ERP: it answers from memory with its age and a stale
        flag (older than the latency target, or the ERP breaker open).
        """
        key = location_key(sku, location)
        level = self._levels.get(key)
        if level is None:
            return None
        now = self._clock.now()
        reserved = self._reserved.get(key, 0)
        safety = self.settings.safety_for(sku)
        buffer = self.settings.buffer_for(channel)
        age = (now - level.as_of).total_seconds()
        return Availability(
            sku=sku,
            location=location,
            channel=channel,
            on_hand=level.on_hand,
            source_available=level.available,
            reserved=reserved,
            safety_stock=safety,
            channel_buffer=buffer,
            available_to_promise=max(0, level.available - reserved - safety - buffer),
            as_of=level.as_of,
            age_seconds=age,
            stale=self._erp_down or age > self.settings.latency_target.total_seconds(),
            sources={
                name: SourceFreshness(as_of, (now - as_of).total_seconds())
                for name, as_of in self._sources.get(key, {}).items()
            },
        )

    def total(self, sku: str, channel: str = DEFAULT_CHANNEL) -> int | None:
        """Return the available-to-promise of `sku` summed over its locations (None: unknown)."""
        at = self._locations.get(sku)
        if not at:
            return None
        total = 0
        for location in at:
            found = self.lookup(sku, location, channel)
            if found is not None:
                total += found.available_to_promise
        return total

    async def available(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        """The order flow's `AvailabilityLookup` port: ATP per SKU over every location.

        Reads the events appended since the last call first, so a flow step sees every level
        logged before it.

        Raises:
            RetryableError: The store cannot answer now (the step is retried).
        """
        await self.catch_up()
        return {sku: self.total(sku) for sku in skus}

    # ---- health -------------------------------------------------------------------------

    async def refresh_health(self) -> bool:
        """Ask the ERP breakers for their state; return True when one is open."""
        down = False
        for breaker in self._breakers:
            with contextlib.suppress(Exception):
                if str(await breaker.state()) == "open":
                    down = True
        self._erp_down = down
        return down

    # ---- checkpoint ---------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {
            "position": self._position,
            "levels": [
                [sku, loc, lv.on_hand, lv.available, lv.as_of.isoformat(), lv.source, lv.position]
                for sku, at in self._locations.items()
                for loc in at
                if (lv := self._levels.get(location_key(sku, loc))) is not None
            ],
            "sources": {
                key: {name: at.isoformat() for name, at in seen.items()}
                for key, seen in self._sources.items()
            },
        }

    async def save_checkpoint(self) -> int:
        """Store the levels and the position read so far; return that position.

        A checkpoint written meanwhile by another model of the same name is overwritten only
        when this one has read further.
        """
        async with self._lock:
            snapshot = self._snapshot()
            for _ in range(5):
                try:
                    async with self._store.transaction() as tx:
                        found = await tx.get_flow_state(SNAPSHOT_FLOW, self.name)
                        version = 0 if found is None else found.version
                        if found is not None and int(found.state.get("position", 0)) >= (
                            self._position
                        ):
                            self._snapshot_version = version
                            return self._position
                        saved = await tx.save_flow_state(
                            SNAPSHOT_FLOW, self.name, snapshot, version
                        )
                        self._snapshot_version = saved.version
                        return self._position
                except StaleFlowState:
                    continue
            return self._position

    async def start(self) -> int:
        """Load the checkpoint, then read the log after it; return the position reached.

        Raises:
            RetryableError: The store cannot answer now.
        """
        async with self._lock:
            found = await self._store.get_flow_state(SNAPSHOT_FLOW, self.name)
            if found is not None:
                self._load(found.state)
                self._snapshot_version = found.version
        await self.catch_up()
        return self._position

    def _load(self, state: Mapping[str, Any]) -> None:
        for sku, location, on_hand, available, as_of, source, position in state.get("levels", []):
            level = Level(on_hand, int(available), datetime.fromisoformat(as_of), source, position)
            self._levels[location_key(sku, location)] = level
            self._locations.setdefault(sku, {})[location] = None
        for key, seen in state.get("sources", {}).items():
            self._sources[key] = {name: datetime.fromisoformat(at) for name, at in seen.items()}
        self._position = max(self._position, int(state.get("position", 0)))

    async def run(
        self,
        stop: asyncio.Event,
        *,
        interval: float = 0.05,
        checkpoint_every: float = 30.0,
    ) -> None:
        """Follow the log until `stop` is set, refreshing health and checkpointing now and then."""
        last_checkpoint = self._clock.monotonic()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.catch_up()
                await self.refresh_health()
                if self._clock.monotonic() - last_checkpoint >= checkpoint_every:
                    await self.save_checkpoint()
                    last_checkpoint = self._clock.monotonic()
            except (RetryableError, StoreUnavailable) as exc:
                self._log.warning("availability catch-up failed", error=str(exc))
            await _either(stop, self._wake, interval)
        with contextlib.suppress(RetryableError, StoreUnavailable):
            await self.save_checkpoint()
