"""Talk to the simulators as the real systems are talked to: subscriptions, traffic, stock.

Shopify webhooks are subscribed through its Admin REST ``webhooks.json``, ShipStation's through
``/webhooks/subscribe``; a simulator without a subscription API (EasyPost) through the sandbox's
``/_sandbox/webhooks``. Orders are placed with the Shopify simulator's storefront traffic
generator (``/_sandbox/traffic``), which cancels or partly refunds its share of them.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = [
    "DEMO_CHAOS",
    "SHOPIFY_TOPICS",
    "ShopifyTraffic",
    "Subscribed",
    "SubscriptionError",
    "subscribe_easypost",
    "subscribe_shipstation",
    "subscribe_shopify",
]

SHOPIFY_TOPICS: tuple[str, ...] = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "inventory_levels/update",
    "products/update",
)
"""The Shopify topics the hub receives in the demo."""

DEMO_CHAOS: Mapping[str, float] = {
    "duplicate_rate": 0.05,
    "reorder_rate": 0.05,
    "delay_rate": 0.05,
    "delay_s": 0.3,
}
"""Webhook misbehaviour in the demo: some deliveries duplicated, reordered or late (none lost)."""

_TIMEOUT = aiohttp.ClientTimeout(total=15)
_RESTOCK_TO = 400


class SubscriptionError(RuntimeError):
    """A simulator refused a webhook subscription or a traffic request."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """One simulator's subscription: which events go where (the address without its secret)."""

    system: str
    events: tuple[str, ...]
    address: str


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    for _ in range(10):  # a 429 from the system's own rate limit: wait as told, then again
        async with session.post(url, json=body, headers=headers, timeout=_TIMEOUT) as response:
            answer = await _json(response)
            if response.status != 429:
                return response.status, answer
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    return 429, answer


async def subscribe_shopify(
    session: aiohttp.ClientSession,
    entry: Mapping[str, Any],
    address: str,
    topics: Sequence[str] = SHOPIFY_TOPICS,
) -> Subscribed:
    """Subscribe `address` to `topics` with ``POST /admin/api/{version}/webhooks.json``."""
    credentials = entry["credentials"]
    headers = {"X-Shopify-Access-Token": str(credentials["access_token"])}
    url = f"{credentials['admin_api_url']}/webhooks.json"
    for topic in topics:
        body = {"webhook": {"topic": topic, "address": address, "format": "json"}}
        status, answer = await _post(session, url, body, headers=headers)
        if status != 201:
            raise SubscriptionError(f"shopify refused the {topic} subscription: {answer}")
    return Subscribed("shopify", tuple(topics), address)


async def subscribe_shipstation(
    session: aiohttp.ClientSession, entry: Mapping[str, Any], address: str, shown_as: str
) -> Subscribed:
    """Subscribe `address` (which ends in the hook token) to ``SHIP_NOTIFY``."""
    credentials = entry["credentials"]
    pair = f"{credentials['api_key']}:{credentials['api_secret']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    body = {
        "target_url": address,
        "event": "SHIP_NOTIFY",
        "store_id": credentials.get("store_id"),
        "friendly_name": "Crossdock demo",
    }
    status, answer = await _post(
        session, f"{entry['base_url']}/webhooks/subscribe", body, headers=auth
    )
    if status != 201:
        raise SubscriptionError(f"shipstation refused the SHIP_NOTIFY subscription: {answer}")
    return Subscribed("shipstation", ("SHIP_NOTIFY",), shown_as)


async def subscribe_easypost(
    session: aiohttp.ClientSession, entry: Mapping[str, Any], address: str
) -> Subscribed:
    """Subscribe `address` to every tracker event (the sandbox's subscription admin)."""
    status, answer = await _post(session, f"{entry['admin_url']}/webhooks", {"address": address})
    if status != 201:
        raise SubscriptionError(f"easypost refused the webhook subscription: {answer}")
    topics = tuple(entry.get("credentials", {}).get("webhook_topics", ()))
    return Subscribed("easypost", topics or ("tracker.*",), address)


class ShopifyTraffic:
    """Places storefront orders on the Shopify simulator and keeps its shelves stocked.

    Args:
        session: The HTTP session.
        entry: The Shopify simulator's manifest entry.
    """

    def __init__(self, session: aiohttp.ClientSession, entry: Mapping[str, Any]) -> None:
        self._session = session
        self._admin = str(entry["admin_url"])
        credentials = entry["credentials"]
        self._api = str(credentials["admin_api_url"])
        self._headers = {"X-Shopify-Access-Token": str(credentials["access_token"])}
        self.restocks = 0

    async def set_chaos(self, chaos: Mapping[str, float], seed: int | None = None) -> None:
        """Make the simulator's webhooks misbehave as `chaos` says (``POST /_sandbox/faults``)."""
        body: dict[str, Any] = {"webhooks": dict(chaos)}
        if seed is not None:
            body["seed"] = seed
        status, answer = await _post(self._session, f"{self._admin}/faults", body)
        if status != 200:
            raise SubscriptionError(f"shopify refused the webhook chaos settings: {answer}")

    async def place(self, count: int) -> list[int]:
        """Place `count` orders; restock once when the shop runs out. Returns their ids."""
        placed: list[int] = []
        for attempt in range(2):
            status, answer = await _post(
                self._session, f"{self._admin}/traffic?count={count - len(placed)}", None
            )
            placed += [int(i) for i in answer.get("order_ids", [])]
            if status == 201 or len(placed) >= count:
                return placed
            if status != 409 or attempt:
                raise SubscriptionError(f"shopify refused the traffic request: {answer}")
            await self.restock()
        return placed

    async def _levels(self) -> list[dict[str, Any]]:
        async with self._session.get(
            f"{self._api}/locations.json", headers=self._headers, timeout=_TIMEOUT
        ) as response:
            locations = [loc["id"] for loc in (await _json(response)).get("locations", [])]
        query = ",".join(str(loc) for loc in locations)
        async with self._session.get(
            f"{self._api}/inventory_levels.json?location_ids={query}",
            headers=self._headers,
            timeout=_TIMEOUT,
        ) as response:
            levels: list[dict[str, Any]] = (await _json(response)).get("inventory_levels", [])
        return levels

    async def announce_stock(self) -> int:
        """Set every level to what it is, so ``inventory_levels/update`` reports each one.

        The hub takes no channel's level as stock (its stock comes from the ERP; a channel's
        report is an echo of what the hub published), so this only exercises the webhooks.
        Returns how many levels were announced.
        """
        announced = 0
        for level in await self._levels():
            body = {
                "inventory_item_id": level["inventory_item_id"],
                "location_id": level["location_id"],
                "available": int(level.get("available") or 0),
            }
            status, answer = await _post(
                self._session, f"{self._api}/inventory_levels/set.json", body, headers=self._headers
            )
            if status != 200:
                raise SubscriptionError(f"shopify refused a stock level: {answer}")
            announced += 1
        return announced

    async def restock(self) -> int:
        """Bring every stocked level low on units back up (``inventory_levels/set.json``)."""
        levels = await self._levels()
        changed = 0
        for level in levels:
            if int(level.get("available") or 0) >= _RESTOCK_TO // 4:
                continue
            body = {
                "inventory_item_id": level["inventory_item_id"],
                "location_id": level["location_id"],
                "available": _RESTOCK_TO,
            }
            status, _ = await _post(
                self._session, f"{self._api}/inventory_levels/set.json", body, headers=self._headers
            )
            changed += status == 200
        self.restocks += 1
        return changed
