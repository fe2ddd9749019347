"""Availability in the hub: ERP polling, the read model, holds, releases, channel sync.

`HubAvailability` puts together, for one hub process:

- the `AvailabilityReadModel` (settings from the governance file: the
  ``inventory_availability`` domain's latency target, ``[flows.inventory] safety_stock`` for
  every SKU, channels as ignored echo sources), with the ERP's breaker: while it is open every
  answer is stale;
- the ERP's pollers (`crossdock.hub.erp_polling`), which feed it;
- `ReservingAvailability`, the order flow's `StockReservations` port;
- `DeferredReleases`, which performs the flow's ``reservation.release`` commands (destination
  ``availability`` in the worker pool; see `release_handler`);
- a `ChannelSync` per ``[flows.inventory] publish_to`` channel (Shopify): its ids are read from
  the channel once it answers (``locations.json`` and ``products.json``); every hub location is
  published to one channel location (``settings.inventory_location_id`` of the channel, else the
  first location it lists), summed; the freshness SLO is on the hub's metrics registry;
- a `BackorderWatcher` appending ``order.stock_check`` when stock arrives for a backordered
  order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any, Final

from prometheus_client import CollectorRegistry
from structlog.typing import FilteringBoundLogger

from crossdock.availability import (
    DEFAULT_DOMAIN,
    AvailabilityReadModel,
    ChannelSync,
    ChannelTarget,
    FreshnessSLO,
    Reservations,
    settings_from_governance,
)
from crossdock.availability.backorders import BackorderWatcher
from crossdock.availability.promise import ReservingAvailability
from crossdock.availability.releases import DeferredReleases
from crossdock.backbone.store import ClaimedCommand, Store
from crossdock.connectorkit.connector import Connector
from crossdock.connectors.shopify import ShopifyConnector
from crossdock.flows.order_fulfilment.ports import RESERVATION_RELEASE, RESERVATIONS_DESTINATION
from crossdock.governance import Governance
from crossdock.hub.erp_polling import ErpPoller, erp_feeds, erp_of, erp_pollers
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import PermanentError
from crossdock.runtime.workers import Handler, HandlerResult

__all__ = ["SYNC_WINDOW_S", "HubAvailability", "shopify_target"]

SYNC_WINDOW_S: Final = 0.05
"""Changes of one SKU and channel location within this many seconds become one command."""
_DISCOVERY_RETRY_S: Final = 2.0
_RESTART_S: Final = 1.0

_slos: weakref.WeakKeyDictionary[CollectorRegistry, FreshnessSLO] = weakref.WeakKeyDictionary()


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.hub.availability")


def _slo(registry: CollectorRegistry, latency_target: timedelta, objective: float) -> FreshnessSLO:
    # One per registry: a hub started again with the same metrics reuses its series.
    found = _slos.get(registry)
    if found is None:
        found = FreshnessSLO(latency_target, objective, registry=registry)
        _slos[registry] = found
    return found


async def shopify_target(
    connector: ShopifyConnector, *, system: str, location_id: int | None = None
) -> ChannelTarget:
    """Read a Shopify shop's inventory item of each SKU and the location to publish to.

    Args:
        connector: The shop's connector.
        system: The shop's system name: the commands' destination and the channel whose
            buffer applies.
        location_id: The location to publish to (default: the first active one listed).

    Raises:
        ValueError: The shop lists no location.
    """
    locations = (await connector.rest("GET", "locations.json")).json().get("locations") or []
    ids = [int(loc["id"]) for loc in locations if loc.get("active", True)]
    if location_id is None:
        if not ids:
            raise ValueError(f"{system} lists no location to publish stock to")
        location_id = ids[0]
    products = (await connector.rest("GET", "products.json", params={"limit": 250})).json().get(
        "products"
    ) or []
    items: dict[str, int] = {}
    for product in products:
        for variant in product.get("variants") or []:
            sku = str(variant.get("sku") or "").strip()
            item = variant.get("inventory_item_id")
            if sku and isinstance(item, int):
                items.setdefault(sku, item)
    return ChannelTarget(
        destination=system,
        channel=system,
        items=items,
        locations={},
        window=SYNC_WINDOW_S,
        default_location=location_id,
    )


class HubAvailability:
    """The hub's availability parts, started and stopped with the hub.

    Args:
        store: The hub's store.
        governance: The loaded governance file.
        outbound: The systems' connectors (the ERP's and the channels').
        registry: The hub's metrics registry (the freshness SLO is exported there).
    """

    def __init__(
        self,
        store: Store,
        governance: Governance,
        outbound: Mapping[str, Connector],
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.store = store
        self.governance = governance
        inventory = governance.flows.inventory
        if inventory is not None and not inventory.enabled:
            inventory = None
        safety = {"*": inventory.safety_stock} if inventory and inventory.safety_stock else {}
        settings = settings_from_governance(governance, safety_stock=safety)
        erp = erp_of(governance)
        breakers = [outbound[erp].breaker] if erp is not None and erp in outbound else []
        self.model = AvailabilityReadModel(store, settings, name="hub", erp_breakers=breakers)
        self.reservations = Reservations(store, self.model)
        self.port = ReservingAvailability(self.model, self.reservations)
        feeds = erp_feeds(governance, outbound)
        self.releases = DeferredReleases(
            store,
            self.model,
            self.reservations,
            defer_committed=feeds.reports_commitments if feeds is not None else True,
        )
        self.pollers: list[ErpPoller] = erp_pollers(
            store, governance, outbound, on_appended=self._appended, on_polled=self._polled
        )
        self.backorders = BackorderWatcher(store, self.model)
        domain = governance.domains.get(DEFAULT_DOMAIN)
        self.slo = _slo(
            registry,
            settings.latency_target,
            domain.objective_percent if domain is not None else 99.0,
        )
        self.syncs: list[ChannelSync] = []
        self._running: dict[str, ChannelSync] = {}
        self._channels: dict[str, Connector] = {
            name: outbound[name]
            for name in (inventory.publish_to if inventory is not None else [])
            if name in outbound
        }
        self._on_appended: list[Callable[[], None]] = []
        self._on_commands: list[Callable[[], None]] = []
        self._stop = asyncio.Event()

    def on_appended(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever the pollers appended events (wake the flows)."""
        self._on_appended.append(callback)

    def on_commands(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever channel sync enqueued commands (wake the workers)."""
        self._on_commands.append(callback)

    def _appended(self) -> None:
        self.model.notify()
        for callback in self._on_appended:
            callback()

    def _enqueued(self) -> None:
        for callback in self._on_commands:
            callback()

    async def _polled(self, started: float) -> None:
        try:
            await self.releases.settle(started)
        except Exception as exc:  # the poll itself succeeded: settle again after the next
            _log().warning("deferred releases not settled yet", error=str(exc))

    def release_handler(self) -> Handler:
        """The worker handler of destination ``availability`` (``reservation.release``)."""

        async def handle(claim: ClaimedCommand) -> HandlerResult:
            command = claim.command
            if command.kind != RESERVATION_RELEASE:
                raise PermanentError(
                    f"{RESERVATIONS_DESTINATION} performs {RESERVATION_RELEASE} only",
                    detail=command.kind,
                )
            return HandlerResult(result=await self.releases.perform(command.payload))

        return handle

    async def start(self) -> None:
        """Load the model's checkpoint and read the log after it; load the holds."""
        await self.model.start()
        await self.reservations.refresh()
        await self.backorders.start()

    def tasks(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """The loops to run until `request_stop`, with their names.

        Each runs until the stop: one that fails is logged and started again (a part that
        ended on its own would end the hub: `Hub.wait`).
        """
        loops: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
            ("availability", lambda: self.model.run(self._stop)),
            ("availability:backorders", lambda: self.backorders.run(self._stop)),
        ]
        loops += [(f"erp:{p.system}:{p.feed}", p.run) for p in self.pollers]
        loops += [
            (f"sync:{name}", functools.partial(self._sync, name, connector))
            for name, connector in self._channels.items()
        ]
        return [(name, self._guarded(name, loop)) for name, loop in loops]

    async def _guarded(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while not self._stop.is_set():
            try:
                await loop()
            except Exception:
                _log().exception("availability part failed; starting it again", part=name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), _RESTART_S)

    async def _sync(self, name: str, connector: Connector) -> None:
        """Learn the channel's ids (retrying until it answers), then keep it in stock."""
        if not isinstance(connector, ShopifyConnector):
            _log().warning("stock is published to Shopify channels only", system=name)
            await self._stop.wait()
            return
        raw = self.governance.systems[name].settings.get("inventory_location_id")
        try:
            location = None if raw is None or isinstance(raw, bool) else int(raw)
        except ValueError:
            _log().error("settings.inventory_location_id is not a location id", system=name)
            await self._stop.wait()
            return
        existing = self._running.get(name)
        target: ChannelTarget | None = existing.target if existing is not None else None
        while target is None and not self._stop.is_set():
            try:
                target = await shopify_target(connector, system=name, location_id=location)
            except Exception as exc:  # the channel down: try again, never end the hub
                _log().warning("cannot read the channel's ids yet", system=name, error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), _DISCOVERY_RETRY_S)
        if target is None:
            return
        sync = self._running.get(name)
        if sync is None:  # started again after a failure: keep what it pushed
            sync = ChannelSync(
                self.store, self.model, target, slo=self.slo, on_enqueued=self._enqueued
            )
            self._running[name] = sync
            self.syncs.append(sync)
            sync.mark_all()
            _log().info("publishing stock", system=name, skus=len(target.items))
        await sync.run(self._stop)

    def request_stop(self) -> None:
        """End every loop (after the step in progress)."""
        self._stop.set()
        for poller in self.pollers:
            poller.request_stop()
