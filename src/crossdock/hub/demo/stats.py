"""What the demo shows: one `DemoSnapshot` of the hub and the simulators, taken on demand.

Counts come from where the hub keeps them: the ingress and decode counters on the hub's metrics
registry, the event log (read incrementally), the inbox's dead rows with their reasons, the
command queue's depth, the connectors' breakers, and the simulators' own delivery records.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from crossdock.backbone import InboxStatus, SqlStore, StoreError
from crossdock.canonical.envelope import Event
from crossdock.connectorkit.connector import Connector
from crossdock.flows.order_fulfilment import OrderFulfilment
from crossdock.flows.order_fulfilment.machine import MACHINE
from crossdock.hub.inbound import ConnectorInbound
from crossdock.sandbox.kit import Simulator

__all__ = [
    "FINAL_STATES",
    "NOT_BUILT",
    "DemoSnapshot",
    "DemoStats",
    "SimulatorRow",
    "SystemRow",
    "simulator_effects",
    "simulator_row",
]

NOT_BUILT: tuple[str, ...] = (
    "returns: the ERP connectors authorize and credit returns, but no flow drives them yet",
)
"""Stages the demo does not reach, said plainly in the view and the summary."""

FINAL_STATES: frozenset[str] = frozenset(
    state.name for state in MACHINE.states if state.kind == "final"
)
"""Order flow states after which an order's state no longer changes."""


@dataclass(frozen=True, slots=True)
class SystemRow:
    """One configured system as the hub sees it.

    Attributes:
        name: The system's name in the governance file.
        kind: Its kind.
        receiving: True when the hub has an inbound connector for it (``/hooks/{name}``).
        received: New deliveries stored in the inbox.
        duplicates: Redeliveries the inbox absorbed (acknowledged, not stored again).
        refused: Deliveries answered without a 2xx (bad signature, too large, store down).
        decoded: Inbox rows decoded into canonical events.
        dead: Inbox rows dead-lettered.
        quarantined: Inbox rows quarantined (a totals mismatch, say).
        retrying: Decode attempts deferred for a retryable failure.
        queue_depth: Unfinished commands for this destination.
        breaker: The connector's breaker state, when it has one.
        note: Why the system takes no part (inactive, no simulator, no inbound connector).
    """

    name: str
    kind: str
    receiving: bool
    received: int = 0
    duplicates: int = 0
    refused: int = 0
    decoded: int = 0
    dead: int = 0
    quarantined: int = 0
    retrying: int = 0
    queue_depth: int = 0
    breaker: str | None = None
    note: str = ""

    @property
    def waiting(self) -> int:
        """Stored rows not yet decoded nor dead-lettered."""
        return max(0, self.received - self.decoded - self.dead - self.quarantined)


@dataclass(frozen=True, slots=True)
class SimulatorRow:
    """One simulator: where it runs and what its webhook sender did.

    Attributes:
        name: The simulator's system name.
        url: Its base URL on loopback ("" when it did not start).
        subscribed: The events subscribed to the hub (empty when none).
        emitted: Deliveries it queued (one per event and subscription).
        delivered: Deliveries the hub acknowledged (2xx).
        pending: Deliveries still being attempted or waiting for a retry.
        failed: Deliveries that ran out of retries, or were dropped.
        chaos: Injected misbehaviour by kind (duplicated, reordered, delayed, dropped).
        status: ``running`` or why it is not.
    """

    name: str
    url: str
    subscribed: tuple[str, ...] = ()
    emitted: int = 0
    delivered: int = 0
    pending: int = 0
    failed: int = 0
    chaos: Mapping[str, int] = field(default_factory=dict)
    status: str = "running"


@dataclass(frozen=True, slots=True)
class DemoSnapshot:
    """Everything the live view and the summary show.

    Attributes:
        elapsed_s: Seconds since the demo started.
        orders_placed: Orders the traffic generator placed.
        orders_target: The bounded demo's order count (None: runs until stopped).
        rate: Orders per second asked for.
        api_url: The hub's API.
        manifest_path: The sandbox manifest.
        store_path: The SQLite store.
        systems: The configured systems.
        simulators: The simulators.
        events_by_type: Canonical events in the log, by type.
        dead_reasons: (source, reason) of dead or quarantined inbox rows, with their count.
        flow_states: Orders (order flow instances) by their current state.
        dead_letters: (destination, reason) of dead-lettered commands, with their count.
        effects: Per simulator, ``kind`` to the number of keys it actually created (its
            effect ledger: sales orders, Salesforce Orders, warehouse orders, fulfillments).
        restocks: How often the storefront was restocked.
        traffic_s: Seconds since the first order was placed (throughput is over this).
        phase: What the demo is doing (starting, placing orders, draining, done).
    """

    elapsed_s: float
    orders_placed: int
    orders_target: int | None
    rate: float
    api_url: str
    manifest_path: Path
    store_path: Path
    systems: tuple[SystemRow, ...]
    simulators: tuple[SimulatorRow, ...]
    events_by_type: Mapping[str, int]
    dead_reasons: Mapping[tuple[str, str], int]
    restocks: int = 0
    traffic_s: float = 0.0
    phase: str = ""
    flow_states: Mapping[str, int] = field(default_factory=dict)
    dead_letters: Mapping[tuple[str, str], int] = field(default_factory=dict)
    effects: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def results_by_type(self) -> dict[str, int]:
        """Result events of performed commands (``erp.sales_order.created`` and so on)."""
        return {
            kind: count
            for kind, count in self.events_by_type.items()
            if kind.split(".", 1)[0] in _RESULT_PREFIXES or kind == "command.failed"
        }

    @property
    def events_total(self) -> int:
        """Canonical events in the log."""
        return sum(self.events_by_type.values())

    @property
    def deliveries_total(self) -> int:
        """Deliveries acknowledged by the hub (new and duplicates)."""
        return sum(s.received + s.duplicates for s in self.systems)

    @property
    def waiting(self) -> int:
        """Inbox rows not yet settled."""
        return sum(s.waiting for s in self.systems)

    def per_second(self, count: int) -> float:
        """`count` per second of traffic (since the first order was placed)."""
        return count / self.traffic_s if self.traffic_s > 0 else 0.0


Router = Callable[[Event], Awaitable[str | None]]
"""Maps an ``order.placed`` event to its order flow key (the flow's own routing)."""

_RESULT_PREFIXES = frozenset({"erp", "crm", "warehouse", "channel", "carrier", "tracking"})


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _count(
    samples: Mapping[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> int:
    total = 0.0
    for sample_labels, value in samples.get(name, []):
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            total += value
    return int(total)


class DemoStats:
    """Takes snapshots; keeps a cursor on the event log so each read is incremental.

    Args:
        store: The hub's store.
        registry: The hub's metrics registry.
        started: `time.monotonic()` when the demo started.
        router: The order flow's routing (None: the flow does not run; no states shown).
    """

    def __init__(
        self,
        store: SqlStore,
        registry: CollectorRegistry,
        started: float,
        router: Router | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._started = started
        self._router = router
        self._after = 0
        self._events: Counter[str] = Counter()
        self._orders: dict[str, str | None] = {}  # flow key -> last state read (None: none yet)

    async def _read_events(self) -> None:
        while True:
            batch = await self._store.read_events(self._after, limit=1000)
            for stored in batch:
                event = stored.event
                self._events[event.type] += 1
                self._after = stored.position
                if event.type == "order.placed" and self._router is not None:
                    with contextlib.suppress(Exception):  # not the flow's: not counted
                        key = await self._router(event)
                        if key is not None:
                            self._orders.setdefault(key, None)
            if len(batch) < 1000:
                return

    async def _flow_states(self) -> dict[str, int]:
        """Orders by flow state: re-reads the instances not yet in a final state."""
        for key, last in self._orders.items():
            if last in FINAL_STATES:
                continue
            found = await self._store.get_flow_state(OrderFulfilment.name, key)
            inner = None if found is None else found.state.get("state")
            status = inner.get("status") if isinstance(inner, dict) else None
            self._orders[key] = str(status) if status is not None else None
        states = Counter(state or "not yet seen by the flow" for state in self._orders.values())
        return dict(sorted(states.items()))

    def order_states(self) -> dict[str, str | None]:
        """Each order's flow key and its state as last read (after `snapshot`)."""
        return dict(self._orders)

    async def _dead_letters(self) -> Counter[tuple[str, str]]:
        reasons: Counter[tuple[str, str]] = Counter()
        for letter in await self._store.list_dead_letters(limit=100_000):
            reasons[(letter.command.destination, letter.reason)] += 1
        return reasons

    async def _dead(self) -> Counter[tuple[str, str]]:
        reasons: Counter[tuple[str, str]] = Counter()
        for item in await self._store.list_inbox(InboxStatus.DEAD, limit=100_000):
            reasons[(item.source, item.reason or "no reason recorded")] += 1
        return reasons

    async def system_rows(
        self,
        configured: Mapping[str, tuple[str, str]],
        inbound: Mapping[str, ConnectorInbound],
        outbound: Mapping[str, Connector] | None = None,
    ) -> tuple[SystemRow, ...]:
        """One row per configured system: name to (kind, note)."""
        samples = _samples(self._registry)
        try:
            depths = await self._store.queue_depth()
        except StoreError:
            depths = {}
        rows = []
        for name, (kind, note) in configured.items():
            connector = inbound.get(name)
            sender = (outbound or {}).get(name)
            if sender is None and connector is not None:
                sender = connector.connector
            breaker = None
            if sender is not None:
                breaker = str(await sender.breaker.state())
            decoded = "crossdock_inbox_decoded_total"
            rows.append(
                SystemRow(
                    name=name,
                    kind=kind,
                    receiving=connector is not None,
                    received=_count(
                        samples, "crossdock_inbox_records_total", source=name, outcome="new"
                    ),
                    duplicates=_count(
                        samples, "crossdock_inbox_records_total", source=name, outcome="duplicate"
                    ),
                    refused=_count(samples, "crossdock_ingress_refused_total", system=name),
                    decoded=_count(samples, decoded, source=name, outcome="decoded"),
                    dead=_count(samples, decoded, source=name, outcome="dead"),
                    quarantined=_count(samples, decoded, source=name, outcome="quarantined"),
                    retrying=_count(samples, decoded, source=name, outcome="retry"),
                    queue_depth=depths.get(name, 0),
                    breaker=breaker,
                    note=note,
                )
            )
        return tuple(rows)

    async def snapshot(
        self,
        *,
        configured: Mapping[str, tuple[str, str]],
        inbound: Mapping[str, ConnectorInbound],
        outbound: Mapping[str, Connector] | None = None,
        simulators: tuple[SimulatorRow, ...],
        effects: Mapping[str, Mapping[str, int]] | None = None,
        orders_placed: int,
        orders_target: int | None,
        rate: float,
        api_url: str,
        manifest_path: Path,
        store_path: Path,
        restocks: int = 0,
        traffic_started: float | None = None,
        phase: str = "",
    ) -> DemoSnapshot:
        """Read the counters, the new events and the dead rows; return the snapshot."""
        await self._read_events()
        now = time.monotonic()
        return DemoSnapshot(
            elapsed_s=now - self._started,
            orders_placed=orders_placed,
            orders_target=orders_target,
            rate=rate,
            api_url=api_url,
            manifest_path=manifest_path,
            store_path=store_path,
            systems=await self.system_rows(configured, inbound, outbound),
            simulators=simulators,
            events_by_type=dict(sorted(self._events.items())),
            dead_reasons=dict(await self._dead()),
            restocks=restocks,
            traffic_s=now - traffic_started if traffic_started is not None else 0.0,
            phase=phase,
            flow_states=await self._flow_states(),
            dead_letters=dict(await self._dead_letters()),
            effects=dict(effects or {}),
        )


def simulator_effects(sim: Simulator) -> dict[str, int]:
    """``kind`` to the number of keys the simulator actually created (its effect ledger)."""
    report = sim.effects.report()
    return {
        kind: sum(1 for entry in entries.values() if entry["created"])
        for kind, entries in sorted(report.items())
    }


def simulator_row(
    name: str, sim: Simulator | None, url: str, subscribed: tuple[str, ...], status: str
) -> SimulatorRow:
    """Read one simulator's webhook records (in this process) into a row."""
    sender = sim.webhooks if sim is not None else None
    if sender is None:
        return SimulatorRow(name, url, subscribed, status=status)
    deliveries = sender.deliveries
    states = Counter(d.state for d in deliveries)
    chaos: Counter[str] = Counter(tag for d in deliveries for tag in d.chaos)
    return SimulatorRow(
        name=name,
        url=url,
        subscribed=subscribed,
        emitted=len(deliveries),
        delivered=states["delivered"],
        pending=sender.pending,
        failed=states["failed"] + states["dropped"],
        chaos=dict(chaos),
        status=status,
    )
