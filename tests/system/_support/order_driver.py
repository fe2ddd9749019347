"""Drives generated orders through the simulators: places them, then plays merchant and warehouse.

`OrderDriver.place` puts storefront orders into the Shopify simulator at a given rate;
`OrderDriver.act` looks at each order's flow state (the hub's store) and the warehouse, and
does what the order's kind asks for: re-sends its webhooks, cancels it in the storefront,
ships it from ShipStation in one or two parts. `OrderDriver.settle` repeats that until every
order is where its kind must end and the hub and the simulators are idle.

Every action goes through a simulator's own API (the storefront's and the warehouse's admin
endpoints), never through the hub. What the driver reads of the warehouse it reads from the
simulator object in this process (the order list only; the effects are judged over HTTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from crossdock.flows.order_fulfilment.flow import order_key_for
from crossdock.hub.demo import storefront_catalogue
from crossdock.sandbox.shopify import default_scenario as shopify_scenario

from .order_kinds import BACKORDER_SKU, UNKNOWN_SKU, Kind, expected_outcome, order_spec
from .order_rig import HubDb, RigSimulators

__all__ = ["OrderDriver", "PlacedOrder"]

SETTLE_S = 2.0
"""How long everything must stay idle, with every order where it must end, to count as done."""
STALL_S = 15.0
"""How long nothing may change (idle, orders not where they must end) before giving up."""
_TIMEOUT = aiohttp.ClientTimeout(total=30)
_PLACE_CONCURRENCY = 4
_ACT_CONCURRENCY = 8
_ACTION_TRIES = 5


@dataclass
class PlacedOrder:
    """One generated order.

    Attributes:
        n: Its number in the run.
        kind: Its kind.
        key: The hub's id of it (`order_key_for`).
        shopify_id: The storefront's order id.
        numbers: Its order number as the storefront shows it (``1001``, ``#1001``).
        done: The driver's actions already taken on it.
        failed: How often each action failed (it is tried again, up to `_ACTION_TRIES`).
    """

    n: int
    kind: Kind
    key: str
    shopify_id: int
    numbers: tuple[str, ...]
    done: set[str] = field(default_factory=set)
    failed: dict[str, int] = field(default_factory=dict)


class OrderDriver:
    """Places orders and acts on them (see the module docstring).

    Args:
        sims: The running simulators.
        session: An HTTP session.
        db: The hub's store, read-only.
        rng: The run's seeded random source.
        run: A tag that makes the run's customers unique.
    """

    def __init__(
        self,
        sims: RigSimulators,
        session: aiohttp.ClientSession,
        db: HubDb,
        rng: random.Random,
        run: str,
    ) -> None:
        self.sims = sims
        self.session = session
        self.db = db
        self.rng = rng
        self.run = run
        self.orders: dict[str, PlacedOrder] = {}
        self.errors: list[str] = []
        self.skus = [item.sku for item in storefront_catalogue(shopify_scenario().data)]
        self._gate = asyncio.Semaphore(_ACT_CONCURRENCY)

    # -- HTTP helpers ----------------------------------------------------------------------

    async def _post(self, url: str, body: Any, ok: Sequence[int] = (200, 201, 202)) -> Any:
        async with self.session.post(url, json=body, timeout=_TIMEOUT) as response:
            answer = await response.json(content_type=None)
            if response.status not in ok:
                raise AssertionError(f"POST {url} answered {response.status}: {answer}")
            return answer

    async def _shopify_api(self, method: str, path: str, body: Any = None) -> Any:
        credentials = self.sims.systems["shopify"]["credentials"]
        url = f"{credentials['admin_api_url']}/{path}"
        headers = {"X-Shopify-Access-Token": str(credentials["access_token"])}
        async with self.session.request(
            method, url, json=body, headers=headers, timeout=_TIMEOUT
        ) as response:
            answer = await response.json(content_type=None)
            if response.status >= 300:
                raise AssertionError(f"{method} {path} answered {response.status}: {answer}")
            return answer

    # -- stock -----------------------------------------------------------------------------

    async def announce_stock(self, deadline_s: float = 60.0) -> int:
        """Set every storefront level but the unknown SKU's, wait until the hub took them in
        (delivered and decoded), then stop the storefront's stock webhooks.

        The hub then knows the seeded stock of every catalogue SKU (today from these webhooks;
        the ERP simulator holds the same catalogue for a hub that reads stock there) and
        never hears of `UNKNOWN_SKU`, whose orders it must quarantine.
        """
        locations = (await self._shopify_api("GET", "locations.json"))["locations"]
        ids = ",".join(str(loc["id"]) for loc in locations)
        levels = (await self._shopify_api("GET", f"inventory_levels.json?location_ids={ids}"))[
            "inventory_levels"
        ]
        shop = self.sims.sandbox.simulators["shopify"]
        unknown = {
            int(v["inventory_item_id"])
            for v in shop.state.variants.values()  # type: ignore[attr-defined]
            if v["sku"] == UNKNOWN_SKU
        }
        announced = 0
        for level in levels:
            if int(level["inventory_item_id"]) in unknown:
                continue
            body = {
                "inventory_item_id": level["inventory_item_id"],
                "location_id": level["location_id"],
                "available": int(level.get("available") or 0),
            }
            await self._shopify_api("POST", "inventory_levels/set.json", body)
            announced += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while self.sims.release_held() or self.db.inbox_waiting():
            if loop.time() > deadline:
                raise AssertionError(
                    f"the hub did not take in the {announced} stock levels within {deadline_s} s"
                )
            await asyncio.sleep(0.1)
        for hook in (await self._shopify_api("GET", "webhooks.json"))["webhooks"]:
            if hook["topic"] == "inventory_levels/update":
                await self._shopify_api("DELETE", f"webhooks/{hook['id']}.json")
        return announced

    async def hub_knows_stock(self, hub_url: str, deadline_s: float = 60.0) -> bool:
        """Wait until the hub's ``/v1/availability`` knows every catalogue SKU, whatever its
        source (the ERP's polling, say); False when the hub does not serve the API.
        """
        wanted = [*self.skus, BACKORDER_SKU]
        url = f"{hub_url}/v1/availability"
        params = [("sku", sku) for sku in wanted]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while True:
            async with self.session.get(url, params=params, timeout=_TIMEOUT) as response:
                body = await response.json(content_type=None)
                if response.status == 404 and "title" not in body:
                    return False  # no such route in this hub
                unknown = (
                    {u["sku"] for u in body.get("unknown", [])}
                    if response.status == 200
                    else set(wanted)
                )
            if not unknown:
                return True
            if loop.time() > deadline:
                raise AssertionError(
                    f"the hub's availability did not know {sorted(unknown)} within {deadline_s} s"
                )
            await asyncio.sleep(0.2)

    # -- placing ---------------------------------------------------------------------------

    async def place(
        self,
        kinds: Sequence[Kind],
        rate: float,
        *,
        first: int = 0,
    ) -> list[PlacedOrder]:
        """Place one order per kind at `rate` per second (`first` numbers them); act meanwhile."""
        admin = self.sims.admin("shopify")
        gate = asyncio.Semaphore(_PLACE_CONCURRENCY)
        placed: list[PlacedOrder] = []
        specs = [
            (first + i, kind, order_spec(kind, first + i, self.run, self.skus, self.rng))
            for i, kind in enumerate(kinds)
        ]

        async def one(n: int, kind: Kind, spec: dict[str, Any]) -> None:
            async with gate:
                answer = await self._post(f"{admin}/shopify/orders", spec, ok=(201,))
            order = answer["order"]
            key = order_key_for("shopify", f"gid://shopify/Order/{order['id']}")
            numbers = (str(order.get("order_number")), str(order.get("name")))
            made = PlacedOrder(n, kind, key, int(order["id"]), numbers)
            self.orders[key] = made
            placed.append(made)
            if kind is Kind.DUPLICATES:
                await self._resend(made, "orders/create", "orders/updated")

        loop = asyncio.get_running_loop()
        began = loop.time()
        tasks: list[asyncio.Task[None]] = []
        last_act = 0.0
        for index, (n, kind, spec) in enumerate(specs):
            await asyncio.sleep(max(0.0, began + index / rate - loop.time()))
            tasks.append(asyncio.create_task(one(n, kind, spec)))
            if loop.time() - last_act > 0.5:
                last_act = loop.time()
                await self.act()
        await asyncio.gather(*tasks)
        return placed

    async def _resend(self, order: PlacedOrder, *topics: str) -> None:
        admin = self.sims.admin("shopify")
        for topic in topics:
            await self._post(
                f"{admin}/shopify/webhooks/emit", {"order_id": order.shopify_id, "topic": topic}
            )

    # -- acting ----------------------------------------------------------------------------

    def _warehouse_order(self, key: str) -> dict[str, Any] | None:
        state = self.sims.sandbox.simulators["shipstation"].state  # type: ignore[attr-defined]
        order_id = state.by_key.get(key)
        found: dict[str, Any] | None = state.orders.get(order_id) if order_id else None
        return found

    async def _ship(self, order: PlacedOrder, items: list[dict[str, Any]] | None) -> None:
        body: dict[str, Any] = {"orderKey": order.key}
        if items:
            body["items"] = items
        await self._post(f"{self.sims.admin('shipstation')}/shipstation/ship", body)

    async def _cancel(self, order: PlacedOrder) -> None:
        url = f"{self.sims.admin('shopify')}/shopify/orders/{order.shopify_id}/cancel"
        await self._post(url, {"reason": "customer", "restock": True}, ok=(200, 422))

    def _next_action(self, order: PlacedOrder, state: str | None) -> str | None:
        """The one action to take on `order` now, if any."""
        kind, done = order.kind, order.done
        if kind is Kind.CANCEL_BEFORE and state == "payment_held" and "cancel" not in done:
            return "cancel"
        if kind is Kind.DUPLICATES and state == "released_to_warehouse" and "late" not in done:
            return "late"
        if kind not in (Kind.PAID, Kind.DUPLICATES, Kind.SPLIT, Kind.CANCEL_AFTER):
            return None
        if state == "released_to_warehouse" and "first" not in done:
            warehouse = self._warehouse_order(order.key)
            if warehouse is not None and warehouse["orderStatus"] == "awaiting_shipment":
                return "first"
        if kind is Kind.SPLIT and state == "partially_shipped" and "rest" not in done:
            return "rest"
        return None

    async def _do(self, order: PlacedOrder, action: str) -> None:
        async with self._gate:
            try:
                if action == "cancel":
                    await self._cancel(order)
                elif action == "late":
                    await self._resend(order, "orders/create")
                elif action == "first" and order.kind is Kind.CANCEL_AFTER:
                    await self._cancel(order)
                elif action == "first" and order.kind is Kind.SPLIT:
                    warehouse = self._warehouse_order(order.key)
                    assert warehouse is not None
                    item = warehouse["items"][0]
                    await self._ship(
                        order, [{"orderItemId": item["orderItemId"], "quantity": item["quantity"]}]
                    )
                elif action in ("first", "rest"):
                    await self._ship(order, None)
            except (AssertionError, aiohttp.ClientError, TimeoutError) as exc:
                # Tried again on the next pass (a keep-alive connection reset, say), up to a point.
                order.failed[action] = order.failed.get(action, 0) + 1
                if order.failed[action] < _ACTION_TRIES:
                    order.done.discard(action)
                else:
                    self.errors.append(
                        f"order {order.n} ({order.kind}, {order.key}): {action}: {exc}"
                    )

    async def act(self) -> int:
        """Take every action due now; return how many."""
        states = self.db.states()
        due = [
            (order, action)
            for order in list(self.orders.values())
            if (action := self._next_action(order, states.get(order.key))) is not None
        ]
        for order, action in due:  # taken now: a concurrent pass must not take it again
            order.done.add(action)
        await asyncio.gather(*(self._do(order, action) for order, action in due))
        return len(due)

    # -- waiting ---------------------------------------------------------------------------

    def settled(self) -> int:
        """How many orders are where their kind ends."""
        return len(self.orders) - len(self.where_they_must_be(self.db.states()))

    def where_they_must_be(self, states: dict[str, str]) -> list[PlacedOrder]:
        """The orders not (yet) in a state their kind may end in."""
        return [
            order
            for order in self.orders.values()
            if states.get(order.key) not in expected_outcome(order.kind).states
        ]

    async def settle(self, within: float) -> bool:
        """Act until every order is where it must end and all is idle for `SETTLE_S`.

        Gives up after `within` seconds, or after `STALL_S` in which nothing changed while all
        was idle (an order stuck where it must not end). Returns True when settled.
        """
        deadline = time.monotonic() + within
        quiet_since: float | None = None
        unchanged_since = time.monotonic()
        last: tuple[Any, ...] = ()
        while True:
            acted = await self.act()
            states = self.db.states()
            pending = self.sims.release_held()
            hub_busy = self.db.busy()
            idle = not acted and pending == 0 and hub_busy == 0
            now = time.monotonic()
            snapshot = (tuple(sorted(states.items())), pending, hub_busy)
            if snapshot != last:
                last, unchanged_since = snapshot, now
            if idle and not self.where_they_must_be(states):
                quiet_since = quiet_since if quiet_since is not None else now
                if now - quiet_since >= SETTLE_S:
                    return True
            else:
                quiet_since = None
            if now > deadline or (idle and now - unchanged_since > STALL_S):
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.sleep(0.3)
