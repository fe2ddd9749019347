"""The demo's orchestration: simulators, a fresh store, the hub, subscriptions and traffic.

`Demo.run` starts every registered simulator on loopback, seeded with one shared catalogue
(`crossdock.hub.demo.catalogue`), points the demo governance file at them, opens a fresh SQLite
store, starts the hub (decoder, order flow, outbound workers, ERP polling and the availability
read model), subscribes the simulators' webhooks to the hub's ingress, waits (bounded) until the
hub has polled the ERP simulator's stock of every SKU (the hub's stock source; it publishes the
available-to-promise to the storefront), and places storefront orders at the asked rate while
reporting snapshots. A bounded demo (``orders``) stops placing orders after that many, waits
(bounded) until every webhook is delivered, the inbox is decoded, the flows have read the whole
log and no command waits in the outbox (for `SETTLE_S` in a row: the warehouse simulators ship
on their own a moment later), stops the hub, and only then takes the final snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from crossdock.backbone import InboxStatus, SqlStore, store_from_url
from crossdock.canonical.envelope import Event
from crossdock.flows.order_fulfilment import OrderFulfilment
from crossdock.governance import Governance, GovernanceError, SystemKind, load_governance
from crossdock.hub.demo.catalogue import demo_scenarios
from crossdock.hub.demo.governance import DemoGovernance, default_demo_config, demo_governance
from crossdock.hub.demo.simulators import DemoSandbox, start_simulators
from crossdock.hub.demo.stats import (
    DemoSnapshot,
    DemoStats,
    Router,
    SimulatorRow,
    simulator_effects,
    simulator_row,
)
from crossdock.hub.demo.wiring import (
    DEMO_CHAOS,
    ShopifyTraffic,
    Subscribed,
    SubscriptionError,
    subscribe_easypost,
    subscribe_shipstation,
    subscribe_shopify,
)
from crossdock.hub.server import Hub
from crossdock.observability.logging import get_logger
from crossdock.observability.metrics import HubMetrics

__all__ = ["Demo", "DemoError", "DemoOptions", "DemoResult"]

STORE_FILE = "crossdock.db"
SETTLE_S = 2.0
"""How long everything must stay idle before a bounded demo counts as drained (the warehouse
simulators ship on their own a moment after an order is released)."""
MANIFEST_FILE = "sandbox.json"
EDI_MAILBOX = "edi-mailbox"
EDI_STATE = "edi-state"


class DemoError(Exception):
    """The demo cannot run; the message says why."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How the demo runs.

    Attributes:
        orders: Stop after placing this many orders (None: until stopped).
        rate: Orders placed per second.
        host: Where the hub's API listens (loopback).
        port: Its port (0 picks a free one).
        data_dir: Where the store, the manifest and the log go (the store is made afresh).
        seed: Seeds every simulator (and the webhook chaos) for a repeatable run.
        config: The demo governance file (default: examples/demo.toml).
        chaos: Webhook misbehaviour on the storefront (duplicates, reordering, delays).
        drain_timeout_s: How long a bounded demo waits for deliveries, decoding, the flows
            and the outbox to go idle.
        refresh_s: Seconds between snapshots.
        export_secrets: Put the demo's credentials into this process's environment (the CLI
            does; tests pass them to the hub only).
    """

    orders: int | None = None
    rate: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8640
    data_dir: Path = Path(".crossdock/demo")
    seed: int | None = None
    config: Path | None = None
    chaos: Mapping[str, float] = field(default_factory=lambda: dict(DEMO_CHAOS))
    drain_timeout_s: float = 60.0
    refresh_s: float = 0.5
    export_secrets: bool = False

    def __post_init__(self) -> None:
        if self.orders is not None and self.orders < 1:
            raise ValueError("orders must be at least 1")
        if self.rate <= 0:
            raise ValueError("rate must be positive")

    @property
    def store_path(self) -> Path:
        """The demo's SQLite store."""
        return self.data_dir / STORE_FILE

    @property
    def manifest_path(self) -> Path:
        """The sandbox manifest the demo writes."""
        return self.data_dir / MANIFEST_FILE


@dataclass(frozen=True, slots=True)
class DemoResult:
    """How a demo ended.

    Attributes:
        snapshot: The last snapshot (the summary's figures).
        drained: True when every delivery was acknowledged, every inbox row settled, the
            flows had read the whole log and no command waited in the outbox.
        order_ids: The Shopify ids of the orders placed, in order.
        interrupted: True when stopped (Ctrl-C, SIGTERM) rather than finished.
        order_states: Each order's flow key to its order flow state at the end (None: the
            flow has no instance for it).
    """

    snapshot: DemoSnapshot
    drained: bool
    order_ids: tuple[int, ...]
    interrupted: bool
    order_states: Mapping[str, str | None] = field(default_factory=dict)


def _log() -> Any:
    return get_logger("crossdock.demo")


def _fresh(path: Path) -> None:
    """Remove a previous demo's store, unless a running hub holds it."""
    lock = Path(f"{path}.lock")
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoError(
                f"another running hub uses {path}; stop it or pass another --data-dir"
            ) from None
        finally:
            os.close(fd)  # closing releases the lock
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _load(options: DemoOptions) -> Governance:
    path = options.config or default_demo_config()
    if path is None:
        raise DemoError("cannot find examples/demo.toml; pass --config FILE")
    try:
        return load_governance(path)
    except GovernanceError as exc:
        raise DemoError("\n".join(exc.errors)) from None


class Demo:
    """One demo run.

    Args:
        options: How it runs.
        on_update: Called with each snapshot (about every `DemoOptions.refresh_s`).
    """

    def __init__(
        self, options: DemoOptions, on_update: Callable[[DemoSnapshot], None] | None = None
    ) -> None:
        self.options = options
        self.on_update = on_update
        self.hub: Hub | None = None
        self.sandbox = DemoSandbox()
        self.setup: DemoGovernance | None = None
        self.order_ids: list[int] = []
        self.subscribed: dict[str, Subscribed] = {}
        self.phase = "starting"
        self._traffic: ShopifyTraffic | None = None
        self._stats: DemoStats | None = None
        self._started = time.monotonic()
        self._traffic_started: float | None = None

    # -- the run -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> DemoResult:
        """Run until the bounded order count is placed and drained, or until `stop` is set.

        Raises:
            DemoError: The governance file is invalid, the storefront simulator is missing,
                or a simulator refused a subscription.
        """
        stop = stop or asyncio.Event()
        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        base = _load(options)
        _fresh(options.store_path)
        async with contextlib.AsyncExitStack() as stack:
            mailbox, edi_state = options.data_dir / EDI_MAILBOX, options.data_dir / EDI_STATE
            for previous in (mailbox, edi_state):  # a previous demo's files and ledger
                shutil.rmtree(previous, ignore_errors=True)
            self.sandbox = await start_simulators(
                stack, seed=options.seed, manifest_path=options.manifest_path, edi_mailbox=mailbox
            )
            stack.callback(_remove, options.manifest_path)
            setup = demo_governance(base, self.sandbox.manifest, edi_state_dir=edi_state)
            self.setup = setup
            environ: MutableMapping[str, str] = dict(os.environ)
            environ.update(setup.environ)
            if options.export_secrets:
                os.environ.update(setup.environ)
            store = await self._open_store(setup.governance)
            stack.push_async_callback(store.close)
            metrics = HubMetrics()
            hub = Hub(
                setup.governance,
                host=options.host,
                port=options.port,
                store=store,
                environ=environ,
                metrics=metrics,
            )
            await hub.start()
            stack.push_async_callback(hub.stop)
            self.hub = hub
            self._stats = DemoStats(store, metrics.registry, self._started, _router(hub, store))
            session = await stack.enter_async_context(aiohttp.ClientSession())
            await self._subscribe(session, environ)
            ticker = asyncio.create_task(self._tick(), name="demo-view")
            try:
                await self._await_stock(stop)
                interrupted = await self._generate(stop)
                drained = False
                if not interrupted:
                    self.phase = "draining"
                    drained = await self._drain(store, stop)
                    interrupted = stop.is_set() and not drained
                self.phase = "stopped" if interrupted else "done"
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            # Stopped before the last snapshot: nothing appends events while it is taken.
            await hub.stop()
            snapshot = await self.snapshot()
            if self.on_update is not None:
                self.on_update(snapshot)
            states = self._stats.order_states()
            return DemoResult(snapshot, drained, tuple(self.order_ids), interrupted, states)
        raise AssertionError("unreachable")  # pragma: no cover - the stack re-raises or returns

    async def _open_store(self, governance: Governance) -> SqlStore:
        path = self.options.store_path
        store = store_from_url(str(path), synchronous=governance.hub.sqlite_synchronous)
        await store.start()  # WAL mode and every migration
        return store

    async def _subscribe(self, session: aiohttp.ClientSession, environ: Mapping[str, str]) -> None:
        assert self.hub is not None
        assert self.setup is not None
        manifest = self.sandbox.manifest.get("systems", {})
        hooks = f"{self.hub.base_url}/hooks"
        for name, inbound in self.hub.systems.items():
            config = self.setup.governance.systems[name]
            entry = manifest.get(self.setup.simulator_of.get(name, ""))
            if entry is None:
                continue
            try:
                if config.kind is SystemKind.SHOPIFY:
                    self.subscribed[name] = await subscribe_shopify(
                        session, entry, f"{hooks}/{name}"
                    )
                    self._traffic = ShopifyTraffic(session, entry)
                elif config.kind is SystemKind.SHIPSTATION:
                    token = environ[config.credentials["hook_token"].variable]
                    self.subscribed[name] = await subscribe_shipstation(
                        session, entry, f"{hooks}/{name}/{token}", f"{hooks}/{name}/<token>"
                    )
                elif config.kind is SystemKind.EASYPOST:
                    self.subscribed[name] = await subscribe_easypost(
                        session, entry, f"{hooks}/{name}"
                    )
            except (SubscriptionError, aiohttp.ClientError) as exc:
                raise DemoError(f"{name}: {exc}") from None
            _log().info("demo subscribed", system=name, inbound=inbound.name)
        if self._traffic is None:
            why = self.sandbox.failed.get("shopify", "it is not registered or not configured")
            raise DemoError(f"the demo needs the Shopify simulator and its inbound side: {why}")
        await self._traffic.set_chaos(self.options.chaos, seed=self.options.seed)

    async def _generate(self, stop: asyncio.Event) -> bool:
        """Place orders at the rate; return True when stopped before the count was reached."""
        assert self._traffic is not None
        target, rate = self.options.orders, self.options.rate
        self.phase = "placing orders"
        loop = asyncio.get_running_loop()
        began = loop.time()
        self._traffic_started = time.monotonic()
        failures = 0
        while not stop.is_set():
            if target is not None and len(self.order_ids) >= target:
                return False
            due = int((loop.time() - began) * rate) + 1
            if target is not None:
                due = min(due, target)
            wanted = min(due - len(self.order_ids), 100)
            if wanted <= 0:
                wait = began + len(self.order_ids) / rate - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(wait, 0.001))
                continue
            try:
                self.order_ids += await self._traffic.place(wanted)
                failures = 0
            except (SubscriptionError, aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                _log().warning("placing orders failed", error=str(exc), failures=failures)
                if target is not None and failures >= 10:
                    raise DemoError(f"the storefront keeps refusing orders: {exc}") from None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        return True

    async def _await_stock(self, stop: asyncio.Event) -> bool:
        """Wait (bounded) until the hub knows the ERP's stock of every storefront SKU.

        The order flow checks stock against the availability read model, which the hub feeds
        by polling the ERP; an order placed before its SKU's level was polled would be
        quarantined as unknown. Returns False when the wait ran out (or the hub polls no ERP).
        """
        assert self.hub is not None
        availability = self.hub.availability
        if availability is None or not availability.pollers:
            return False
        self.phase = "polling the ERP's stock"
        skus = _erp_skus()
        model = availability.model
        deadline = time.monotonic() + self.options.drain_timeout_s
        while not stop.is_set() and time.monotonic() < deadline:
            await model.catch_up()
            if all(model.total(sku) is not None for sku in skus):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        return False

    async def _quiet(self, store: SqlStore) -> bool:
        """True when no delivery is pending, the inbox, the flows and the outbox are idle."""
        assert self.hub is not None
        if any(
            s.webhooks is not None and s.webhooks.pending for s in self.sandbox.simulators.values()
        ):
            return False
        if await store.list_inbox(InboxStatus.RECEIVED, limit=1):
            if self.hub.decoder is not None:
                self.hub.decoder.notify()
            return False
        if self.hub.flows is not None:
            runner = self.hub.flows.runner
            if await store.read_events(await runner.position(), limit=1):
                self.hub.flows.notify()
                return False
        return sum((await store.queue_depth()).values()) == 0

    async def _settle(self, store: SqlStore, stop: asyncio.Event, deadline: float) -> bool:
        """Wait until `_quiet` holds `SETTLE_S` in a row (simulators act late), or `deadline`."""
        quiet_since: float | None = None
        while not stop.is_set():
            now = time.monotonic()
            if await self._quiet(store):
                quiet_since = quiet_since if quiet_since is not None else now
                if now - quiet_since >= SETTLE_S:
                    return True
            else:
                quiet_since = None
            if now >= deadline:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        return False

    async def _drain(self, store: SqlStore, stop: asyncio.Event) -> bool:
        """Wait (bounded) until deliveries, decoding, the flows and the outbox are all idle."""
        deadline = time.monotonic() + self.options.drain_timeout_s
        for sim in self.sandbox.simulators.values():
            if sim.webhooks is None:
                continue
            try:
                await sim.webhooks.drain(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return await self._settle(store, stop, deadline)

    async def _tick(self) -> None:
        while True:
            if self.on_update is not None:
                try:
                    self.on_update(await self.snapshot())
                except Exception:  # the view must never end the demo
                    _log().exception("demo view update failed")
            await asyncio.sleep(self.options.refresh_s)

    # -- what is shown -------------------------------------------------------------------

    def _configured(self) -> dict[str, tuple[str, str]]:
        assert self.setup is not None
        assert self.hub is not None
        rows: dict[str, tuple[str, str]] = {}
        for name, config in self.setup.governance.systems.items():
            if name in self.setup.inactive:
                note = self.setup.inactive[name]
            elif not config.active:
                note = "inactive in the governance file"
            elif name in self.hub.systems:
                note = ""
            elif name in self.hub.outbound:
                note = "sends no webhooks; the hub sends it commands"
            else:
                note = "no inbound or outbound connector"
            rows[name] = (str(config.kind), note)
        return rows

    def _simulator_rows(self) -> tuple[SimulatorRow, ...]:
        assert self.setup is not None
        by_simulator = {sim: name for name, sim in self.setup.simulator_of.items()}
        rows = []
        for name, entry in self.sandbox.manifest.get("systems", {}).items():
            system = by_simulator.get(name, "")
            subscribed = self.subscribed.get(system)
            events = subscribed.events if subscribed is not None else ()
            sim = self.sandbox.simulators.get(name)
            rows.append(simulator_row(name, sim, str(entry.get("base_url", "")), events, "running"))
        for name, reason in self.sandbox.failed.items():
            rows.append(simulator_row(name, None, "", (), reason))
        return tuple(rows)

    async def snapshot(self) -> DemoSnapshot:
        """Take a snapshot now."""
        assert self._stats is not None
        assert self.hub is not None
        return await self._stats.snapshot(
            configured=self._configured(),
            inbound=self.hub.systems,
            outbound=self.hub.outbound,
            simulators=self._simulator_rows(),
            effects={name: simulator_effects(sim) for name, sim in self.sandbox.simulators.items()},
            orders_placed=len(self.order_ids),
            orders_target=self.options.orders,
            rate=self.options.rate,
            api_url=self.hub.base_url,
            manifest_path=self.options.manifest_path,
            store_path=self.options.store_path,
            restocks=self._traffic.restocks if self._traffic is not None else 0,
            traffic_started=self._traffic_started,
            phase=self.phase,
        )


def _erp_skus() -> set[str]:
    """The SKUs the demo seeds the ERP simulator with (the storefront's catalogue)."""
    netsuite = demo_scenarios({"netsuite"}).get("netsuite")
    items = netsuite.data.get("items", []) if netsuite is not None else []
    return {str(item["externalId"]) for item in items}


def _router(hub: Hub, store: SqlStore) -> Router | None:
    """The order flow's own routing of an order event to its key (None: the flow is off)."""
    flows = hub.flows.flows if hub.flows is not None else []
    flow = next((f for f in flows if f.name == OrderFulfilment.name), None)
    if flow is None:
        return None

    async def route(event: Event) -> str | None:
        return await flow.route(event, store)

    return route


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
