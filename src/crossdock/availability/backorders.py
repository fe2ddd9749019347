"""Backorder re-checks: tell the order flow when stock arrives for an order that waits on it.

The order flow emits ``order.backordered`` (data ``order_id`` and ``short``: units missing per
SKU) when it parks an order, or the remainder of one, in ``backorder`` or
``partial_backorder``. `BackorderWatcher` follows the event log for them (its own position,
and the orders waiting on each SKU, kept in the store: flow state ``availability.backorders``),
and listens to the read model. When the available-to-promise of a SKU rises, it appends one
``order.stock_check`` event (source ``crossdock:hub``, subject and ``data.order_id`` the hub
order id) for each order still waiting (`BACKORDER_STATES`) on it; an order that left those
states is forgotten. The flow re-checks the order's stock on it.

A rise the flow may not have seen when it decided (it checked stock, the stock rose, then its
``order.backordered`` was committed) is not lost: an order that starts waiting on a SKU that
rose within the last `RECENT_RISE_S` seconds gets a stock check at once. A check too many is
harmless: the flow re-checks and the order stays in backorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.backbone.store import StaleFlowState, Store, StoreError
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import RetryableError

__all__ = [
    "BACKORDERED",
    "BACKORDER_STATES",
    "ORDER_FLOW",
    "STOCK_CHECK",
    "STOCK_CHECK_SOURCE",
    "WATCH_FLOW",
    "BackorderWatcher",
]

BACKORDERED: Final = "order.backordered"
STOCK_CHECK: Final = "order.stock_check"
STOCK_CHECK_SOURCE: Final = "crossdock:hub"
ORDER_FLOW: Final = "order_fulfilment"
BACKORDER_STATES: Final = frozenset({"backorder", "partial_backorder"})
"""Flow states in which an order waits for stock (the whole order, or a split or short-picked
remainder)."""
WATCH_FLOW: Final = "availability.backorders"
RECENT_RISE_S: Final = 5.0
_PAGE: Final = 500


class BackorderWatcher:
    """Appends ``order.stock_check`` for backordered orders when their stock rises.

    Args:
        store: The hub's store (log, flow states, the watcher's own state).
        model: The read model whose changes are watched.
        name: The key of the watcher's state.
        clock: Monotonic seconds (when a SKU last rose).
    """

    def __init__(
        self,
        store: Store,
        model: AvailabilityReadModel,
        *,
        name: str = "main",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._model = model
        self.name = name
        self._clock = clock
        self._rose_at: dict[str, float] = {}
        self._position = 0
        self._version = 0
        self._waiting: dict[str, set[str]] = {}
        self._atp: dict[str, int] = {}
        self._risen: set[str] = set()
        self._late: dict[str, set[str]] = {}
        self._wake = asyncio.Event()
        self.emitted = 0
        self._log = get_logger("crossdock.availability.backorders")
        model.add_listener(self._changed)

    @property
    def waiting(self) -> dict[str, set[str]]:
        """Order id to the SKUs it waits on."""
        return {order: set(skus) for order, skus in self._waiting.items()}

    def _changed(self, sku: str, location: str) -> None:
        total = self._model.total(sku) or 0
        before = self._atp.get(sku)
        self._atp[sku] = total
        if before is not None and total > before:
            self._risen.add(sku)
            self._rose_at[sku] = self._clock()
            self._wake.set()

    async def start(self) -> None:
        """Load the watcher's state and note every SKU's available-to-promise now."""
        found = await self._store.get_flow_state(WATCH_FLOW, self.name)
        if found is not None:
            self._position = int(found.state.get("position", 0))
            self._version = found.version
            self._waiting = {
                str(order): {str(s) for s in skus}
                for order, skus in found.state.get("waiting", {}).items()
            }
        for sku in self._model.skus():
            self._atp[sku] = self._model.total(sku) or 0

    async def _follow(self) -> bool:
        """Read new ``order.backordered`` events; True when the waiting set changed."""
        changed = False
        while True:
            batch = await self._store.read_events(self._position, limit=_PAGE)
            for stored in batch:
                self._position = stored.position
                event = stored.event
                if event.type != BACKORDERED:
                    continue
                order = event.data.get("order_id") or event.subject
                short = event.data.get("short")
                if isinstance(order, str) and order and isinstance(short, Mapping):
                    self._waiting[order] = {str(sku) for sku in short}
                    changed = True
                    now = self._clock()
                    recent = {
                        sku
                        for sku in self._waiting[order]
                        if now - self._rose_at.get(sku, float("-inf")) <= RECENT_RISE_S
                    }
                    if recent:
                        self._late[order] = recent
            changed = changed or bool(batch)  # the position moved: save it
            if len(batch) < _PAGE:
                return changed

    async def _save(self) -> None:
        state = {
            "position": self._position,
            "waiting": {order: sorted(skus) for order, skus in self._waiting.items()},
        }
        try:
            async with self._store.transaction() as tx:
                saved = await tx.save_flow_state(WATCH_FLOW, self.name, state, self._version)
            self._version = saved.version
        except StaleFlowState:
            # Another watcher of the same name saved first: take its state next time.
            found = await self._store.get_flow_state(WATCH_FLOW, self.name)
            self._version = found.version if found is not None else 0

    async def _still_backordered(self, order: str) -> bool:
        found = await self._store.get_flow_state(ORDER_FLOW, order)
        inner: Any = None if found is None else found.state.get("state")
        return isinstance(inner, Mapping) and inner.get("status") in BACKORDER_STATES

    async def check(self) -> list[str]:
        """Follow the log, then append a stock check for each waiting order whose stock rose.

        Returns:
            The orders a stock check was appended for.
        """
        changed = await self._follow()
        risen, self._risen = self._risen, set()
        late, self._late = self._late, {}
        checks: list[Event] = []
        for order, skus in sorted(self._waiting.items()):
            rose = (skus & risen) | late.get(order, set())
            if not rose:
                continue
            if not await self._still_backordered(order):
                del self._waiting[order]
                changed = True
                continue
            checks.append(
                Event(
                    source=STOCK_CHECK_SOURCE,
                    type=STOCK_CHECK,
                    subject=order,
                    correlationid=new_id(),
                    data={"order_id": order, "skus": sorted(rose)},
                )
            )
        if checks:
            await self._store.append_events(*checks)
            self.emitted += len(checks)
        if changed or checks:
            await self._save()
        return [event.subject or "" for event in checks]

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        """Check whenever stock rises (and every `interval`) until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.check()
            except (StoreError, RetryableError) as exc:
                self._log.warning("backorder check failed; retrying", error=str(exc))
            except Exception:  # never end the hub's availability for it
                self._log.exception("backorder check failed; retrying")
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    {waiter, stopper}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
            waiter.cancel()
            stopper.cancel()
