"""The demo's orchestration: simulators, a fresh store, the hub, subscriptions and traffic.

`Demo.run` starts every registered simulator on loopback, points the demo governance file at
them, opens a fresh SQLite store, starts the hub, subscribes the simulators' webhooks to the
hub's ingress, and places storefront orders at the asked rate while reporting snapshots. A
bounded demo (``orders``) stops placing orders after that many, waits (bounded) until every
webhook is delivered and the inbox is drained, and returns the final snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from crossdock.backbone import InboxStatus, SqlStore, store_from_url
from crossdock.governance import Governance, GovernanceError, SystemKind, load_governance
from crossdock.hub.demo.governance import DemoGovernance, default_demo_config, demo_governance
from crossdock.hub.demo.simulators import DemoSandbox, start_simulators
from crossdock.hub.demo.stats import DemoSnapshot, DemoStats, SimulatorRow, simulator_row
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
MANIFEST_FILE = "sandbox.json"


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
        drain_timeout_s: How long a bounded demo waits for deliveries and decoding to finish.
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
    drain_timeout_s: float = 30.0
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
        drained: True when every delivery was acknowledged and every inbox row settled.
        order_ids: The Shopify ids of the orders placed, in order.
        interrupted: True when stopped (Ctrl-C, SIGTERM) rather than finished.
    """

    snapshot: DemoSnapshot
    drained: bool
    order_ids: tuple[int, ...]
    interrupted: bool


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
            self.sandbox = await start_simulators(
                stack, seed=options.seed, manifest_path=options.manifest_path
            )
            stack.callback(_remove, options.manifest_path)
            setup = demo_governance(base, self.sandbox.manifest)
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
            self._stats = DemoStats(store, metrics.registry, self._started)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            await self._subscribe(session, environ)
            ticker = asyncio.create_task(self._tick(), name="demo-view")
            try:
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
            snapshot = await self.snapshot()
            if self.on_update is not None:
                self.on_update(snapshot)
            return DemoResult(snapshot, drained, tuple(self.order_ids), interrupted)
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

    async def _drain(self, store: SqlStore, stop: asyncio.Event) -> bool:
        """Wait until every webhook is delivered and the inbox is settled (bounded)."""
        assert self.hub is not None
        deadline = time.monotonic() + self.options.drain_timeout_s
        for sim in self.sandbox.simulators.values():
            if sim.webhooks is None:
                continue
            try:
                await sim.webhooks.drain(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
        while time.monotonic() < deadline and not stop.is_set():
            if not await store.list_inbox(InboxStatus.RECEIVED, limit=1):
                return True
            if self.hub.decoder is not None:
                self.hub.decoder.notify()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        return not await store.list_inbox(InboxStatus.RECEIVED, limit=1)

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
            elif config.kind in {SystemKind.NETSUITE, SystemKind.BUSINESSCENTRAL, SystemKind.EDI}:
                note = "sends no webhooks; polled by flows not built yet"
            else:
                note = "no inbound connector yet"
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
            simulators=self._simulator_rows(),
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


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
