"""Stock sync to a sales channel: coalesced ``inventory.set`` commands and the freshness SLO.

`ChannelSync` listens to the read model. Each change of a SKU at a location marks it dirty;
every `ChannelTarget.window` seconds `flush` turns the dirty keys into ``inventory.set``
commands in the outbox (the latest available-to-promise wins: changes within one window give
one command). A command carries an idempotency key derived from the level's version, the
reserved total and the quantity (the same decision enqueued twice is one command), a
partition key per SKU and location (commands of one key run in order), and ``change_from``:
the quantity last pushed, for the connector's compare-and-set.

Echo suppression: the channel's own ``inventory_levels/update`` webhook reports our writes
back. The read model never takes a channel's level as input (``ignored_sources``), so there is
no loop; `ChannelSync` recognises the echo (same quantity as last pushed), counts it as
suppressed and uses its time to measure freshness: source change to channel showing it,
exported as a histogram and evaluated against the domain's latency target and error budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.backbone.store import Command, Store, StoreUnavailable
from crossdock.canonical.inventory import InventoryLevel
from crossdock.runtime.clock import Clock, SystemClock

__all__ = ["ChannelSync", "ChannelTarget", "FreshnessReport", "FreshnessSLO", "SyncCounts"]

INVENTORY_SET: Final = "inventory.set"
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """One channel to keep in stock.

    Attributes:
        destination: The system that performs the commands (e.g. ``shopify``).
        channel: The channel whose buffer applies.
        items: The channel's inventory item id of each SKU (SKUs not listed are not synced).
        locations: The channel's location id of each hub location.
        window: Seconds over which changes of one SKU and location are coalesced.
        default_location: The channel location of every hub location not in `locations`
            (None: those are not synced). Several hub locations published to one channel
            location publish the sum of their available-to-promise.
    """

    destination: str
    channel: str
    items: Mapping[str, int]
    locations: Mapping[str, int]
    window: float = 0.2
    default_location: int | None = None

    def location_of(self, location: str) -> int | None:
        """The channel location a hub location is published to (None: not synced)."""
        return self.locations.get(location, self.default_location)


@dataclass(frozen=True, slots=True)
class FreshnessReport:
    """The freshness service level over the changes measured so far.

    Attributes:
        measured: Changes whose arrival in the channel was seen.
        met: Those within the latency target.
        objective_percent: The share that must meet it.
        achieved_percent: The share that did (100 when nothing was measured).
        budget_spent_percent: Share of the error budget used (over 100: the budget is blown).
    """

    measured: int
    met: int
    objective_percent: float
    achieved_percent: float
    budget_spent_percent: float

    @property
    def ok(self) -> bool:
        """Whether the objective holds."""
        return self.achieved_percent >= self.objective_percent


class FreshnessSLO:
    """Time from a source change to the channel showing it, against the latency target.

    Args:
        latency_target: The domain's latency target.
        objective_percent: The domain's objective (its error budget is the rest).
        registry: Where the metrics are registered (a fresh registry when None).
    """

    def __init__(
        self,
        latency_target: timedelta,
        objective_percent: float = 99.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.latency_target = latency_target.total_seconds()
        self.objective_percent = objective_percent
        self.registry = registry if registry is not None else CollectorRegistry()
        self.histogram = Histogram(
            "crossdock_availability_freshness_seconds",
            "Seconds from a stock change at its source to the channel showing it.",
            ["destination"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.outcomes = Counter(
            "crossdock_availability_freshness_changes",
            "Changes measured, by whether they met the latency target.",
            ["destination", "outcome"],
            registry=self.registry,
        )
        self._measured = 0
        self._met = 0

    def observe(self, destination: str, seconds: float) -> None:
        """Record one change's source-to-channel time."""
        seconds = max(0.0, seconds)
        met = seconds <= self.latency_target
        self.histogram.labels(destination).observe(seconds)
        self.outcomes.labels(destination, "met" if met else "missed").inc()
        self._measured += 1
        self._met += int(met)

    def report(self) -> FreshnessReport:
        """Evaluate the objective and the error budget over what was measured."""
        achieved = 100.0 if not self._measured else 100.0 * self._met / self._measured
        budget = 100.0 - self.objective_percent
        spent = 100.0 * (100.0 - achieved) / budget
        return FreshnessReport(
            self._measured, self._met, self.objective_percent, achieved, round(spent, 6)
        )


@dataclass(slots=True)
class _Pushed:
    quantity: int
    changed_at: datetime
    seen: bool = False


@dataclass(slots=True)
class _Dirty:
    sku: str
    location_id: int
    changed_at: datetime


@dataclass(slots=True)
class SyncCounts:
    """What the sync did (for logs and tests)."""

    enqueued: int = 0
    unchanged: int = 0
    unmapped: int = 0
    echoes_suppressed: int = 0
    foreign_changes: int = 0
    pending: dict[str, int] = field(default_factory=dict)


class ChannelSync:
    """Push available-to-promise to one channel, coalesced, with echo suppression.

    Args:
        store: The store whose outbox takes the commands.
        model: The read model to follow (its ``ignored_sources`` must hold the channel's
            source name, so that the channel's echo is never an input).
        target: The channel and its id mappings.
        slo: The freshness service level (built from the model's latency target when None).
        clock: Gives the time of reservation changes.
        on_enqueued: Called after a flush put commands in the outbox (wake the workers).
    """

    def __init__(
        self,
        store: Store,
        model: AvailabilityReadModel,
        target: ChannelTarget,
        *,
        slo: FreshnessSLO | None = None,
        clock: Clock | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._on_enqueued = on_enqueued
        self._run_id = uuid.uuid4().hex[:12]
        self._sequence = 0
        self._model = model
        self.target = target
        self.slo = slo or FreshnessSLO(model.settings.latency_target)
        self._clock = clock or SystemClock()
        self._dirty: dict[str, _Dirty] = {}
        self._pushed: dict[str, _Pushed] = {}
        self.counts = SyncCounts()
        model.add_listener(self._changed)
        model.add_echo_listener(self._echo)

    def _changed(self, sku: str, location: str) -> None:
        location_id = self.target.location_of(location)
        if location_id is None or sku not in self.target.items:
            self.counts.unmapped += 1
            return
        key = f"{sku}@{location_id}"
        if key in self._dirty:
            return  # coalesced: freshness counts from the first change of the window
        level = self._model.level(sku, location)
        now = self._clock.now()
        changed_at = level.as_of if level is not None and level.as_of <= now else now
        self._dirty[key] = _Dirty(sku, location_id, changed_at)

    def mark_all(self) -> int:
        """Mark every known SKU and location dirty (the first publish after a start)."""
        for sku in self._model.skus():
            for location in self._model.locations(sku):
                self._changed(sku, location)
        return len(self._dirty)

    def _echo_key(self, level: InventoryLevel) -> str | None:
        location_id = self.target.locations.get(level.location)
        if location_id is None and level.location.isdigit():
            location_id = int(level.location)  # the channel's own id, as its webhook says
        return None if location_id is None else f"{level.sku}@{location_id}"

    def _echo(self, level: InventoryLevel) -> None:
        key = self._echo_key(level)
        pushed = self._pushed.get(key) if key is not None else None
        if pushed is None or pushed.quantity != level.available:
            self.counts.foreign_changes += 1
            return
        self.counts.echoes_suppressed += 1
        if not pushed.seen:
            pushed.seen = True
            seconds = (level.as_of - pushed.changed_at).total_seconds()
            self.slo.observe(self.target.destination, seconds)

    def _quantity(self, sku: str, location_id: int) -> tuple[int, int, int] | None:
        """ATP published at a channel location: (quantity, newest position, reserved)."""
        quantity = position = reserved = 0
        found_any = False
        for location in self._model.locations(sku):
            if self.target.location_of(location) != location_id:
                continue
            found = self._model.lookup(sku, location, self.target.channel)
            level = self._model.level(sku, location)
            if found is None or level is None:
                continue
            found_any = True
            quantity += found.available_to_promise
            position = max(position, level.position)
            reserved += found.reserved
        return (quantity, position, reserved) if found_any else None

    async def flush(self) -> list[Command]:
        """Enqueue one ``inventory.set`` per dirty SKU and channel location whose quantity
        changed."""
        dirty, self._dirty = self._dirty, {}
        commands: list[Command] = []
        pushed: list[tuple[str, _Pushed]] = []
        for key, change in dirty.items():
            item = self.target.items.get(change.sku)
            answer = self._quantity(change.sku, change.location_id)
            if item is None or answer is None:
                self.counts.unmapped += 1
                continue
            quantity, position, reserved = answer
            previous = self._pushed.get(key)
            if previous is not None and previous.quantity == quantity:
                self.counts.unchanged += 1
                continue
            payload: dict[str, object] = {
                "inventory_item_id": item,
                "location_id": change.location_id,
                "quantity": quantity,
                "sku": change.sku,
                "source_as_of": change.changed_at.isoformat(),
            }
            if previous is not None:
                payload["change_from"] = previous.quantity
            dest = self.target.destination
            self._sequence += 1
            commands.append(
                Command(
                    # Unique per decision: the same (level, reserved, quantity) reached again
                    # later is a new decision, never swallowed as a duplicate of the first.
                    idempotency_key=(
                        f"{INVENTORY_SET}:{dest}:{key}:p{position}:r{reserved}:q{quantity}:"
                        f"{self._run_id}-{self._sequence}"
                    ),
                    destination=dest,
                    kind=INVENTORY_SET,
                    payload=payload,
                    partition_key=f"inventory:{dest}:{key}",
                )
            )
            pushed.append((key, _Pushed(quantity, change.changed_at)))
        if commands:
            try:
                await self._store.enqueue(*commands)
            except Exception:
                for key, change in dirty.items():  # nothing lost: retried on the next flush
                    self._dirty.setdefault(key, change)
                raise
            self._pushed.update(pushed)
            self.counts.enqueued += len(commands)
            if self._on_enqueued is not None:
                self._on_enqueued()
        return commands

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every window until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.target.window)
            with contextlib.suppress(StoreUnavailable):  # kept dirty: the next flush retries
                await self.flush()
