"""`ShipStationConnector`: orders out to the warehouse, shipments back from SHIP_NOTIFY.

Outbound command kinds (payloads are JSON objects):

- ``order.release``: ``order`` (order.v1) ``[, order_key, order_status, store_id]``;
  ``createorder``.
- ``order.hold``: ``order_id`` (or ``order_key`` + ``order_number``), ``hold_until``
  (``YYYY-MM-DD``); ``holduntil``.
- ``order.unhold``: ``order_id`` (or ``order_key`` + ``order_number``); ``restorefromhold``.
- ``order.cancel``: ``order`` (order.v1), or ``order_id`` (or ``order_key`` +
  ``order_number``); ``createorder`` with ``orderStatus: cancelled``.

Every one is idempotent: ``createorder`` upserts by ``orderKey`` (default: the canonical order
id), holding an order until a date twice holds it once, and a cancelled order stays cancelled.

Inbound: the hook URL ends in a secret token (`HookTokens`); `delivery` refuses an unknown token
with `HookTokenRefusedError` (the ingress answers 401) and otherwise makes the inbox `Delivery`,
malformed or not, so nothing is dropped. `decode` fetches the notice's ``resource_url`` with
``includeShipmentItems=True`` under Basic auth and returns one ``shipment.updated`` per shipment
state (see `crossdock.connectors.shipstation.shipments`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import ValidationError

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.canonical.order import Order, OrderTotalsMismatch, parse_order
from crossdock.connectorkit import Connector, PermanentFailureError, Secret, handles
from crossdock.connectorkit.auth import BasicAuth
from crossdock.connectorkit.http import HttpClient, HttpResponse
from crossdock.connectors.shipstation.budget import shipstation_budget
from crossdock.connectors.shipstation.errors import SHIPSTATION_ERROR_TABLE, DecodeError
from crossdock.connectors.shipstation.hooks import HookTokenRefusedError, HookTokens
from crossdock.connectors.shipstation.orders import createorder_body
from crossdock.connectors.shipstation.shipments import (
    NOTIFY_TYPES,
    parse_notification,
    parse_shipments_page,
    same_origin,
    shipment_events,
    with_items,
    with_page,
)
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, RateBudget

__all__ = [
    "CANCEL_COMMAND",
    "HOLD_COMMAND",
    "RELEASE_COMMAND",
    "UNHOLD_COMMAND",
    "ShipStationConnector",
]

RELEASE_COMMAND: Final = "order.release"
HOLD_COMMAND: Final = "order.hold"
UNHOLD_COMMAND: Final = "order.unhold"
CANCEL_COMMAND: Final = "order.cancel"
MAX_PAGES: Final = 50
_KEPT_HEADERS: Final = frozenset({"content-type", "user-agent"})


class ShipStationConnector(Connector):
    """Speaks ShipStation V1 (see the module docstring for commands and deliveries).

    Args:
        http: The shared HTTP seam.
        api_key: The API key (Basic user).
        api_secret: The API secret (Basic password).
        hook_tokens: Valid hook URL tokens: the current one first, then the previous one
            during a rotation.
        location: The hub location code of this warehouse (set on every shipment).
        store_id: The ShipStation store orders are released to (``advancedOptions.storeId``).
        destination: This instance's name (default ``shipstation``); the event source too.
        base_url: The API root (default ``https://ssapi.shipstation.com``; a simulator in tests).
        rate_budget: The key pair's budget (default: 40 per minute, `shipstation_budget`).
        breaker: The destination's breaker.
        clock: The clock.
    """

    system = "shipstation"
    base_url = "https://ssapi.shipstation.com"
    error_table = SHIPSTATION_ERROR_TABLE

    def __init__(
        self,
        *,
        http: HttpClient,
        api_key: str,
        api_secret: str | Secret,
        hook_tokens: Iterable[str | Secret] = (),
        location: str | None = None,
        store_id: int | None = None,
        destination: str | None = None,
        base_url: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            http=http,
            destination=destination,
            base_url=base_url,
            auth=BasicAuth(api_key, api_secret),
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )
        self.hook_tokens = HookTokens(hook_tokens)
        self.location = location
        self.store_id = store_id

    def build_rate_budget(self) -> RateBudget:
        """40 requests per minute, adapting to ``X-Rate-Limit-*``."""
        return shipstation_budget(self.destination, clock=self.clock)

    # ---- inbound ---------------------------------------------------------------------------

    def verify_token(self, token: str | None) -> None:
        """Accept the token of the hook URL a delivery arrived on.

        Raises:
            HookTokenRefusedError: Missing or unknown: answer 401 and store nothing.
        """
        self.hook_tokens.check(token)

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Whether the token the ingress put in ``X-Crossdock-Hook-Token`` is valid.

        ShipStation signs nothing; the token from the URL is the only proof of origin.
        """
        try:
            self.hook_tokens.check_headers(headers)
        except HookTokenRefusedError:
            return False
        return True

    def hook_url(self, endpoint: str) -> str:
        """The target URL to subscribe: the ingress ``endpoint`` plus the current token."""
        return self.hook_tokens.url(endpoint)

    def dedupe_key(self, raw_body: bytes) -> str:
        """``<resource_type>:<resource_url>``; a malformed body is keyed by its hash."""
        try:
            notice = parse_notification(raw_body)
        except DecodeError:
            return "malformed:" + hashlib.sha256(raw_body).hexdigest()
        return f"{notice.resource_type}:{notice.resource_url}"

    def delivery(
        self,
        token: str | None,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        correlation_id: str = "",
    ) -> Delivery:
        """The inbox `Delivery` of a webhook that arrived on the hook URL with ``token``.

        A malformed body still becomes a delivery (decoding then dead-letters it).

        Raises:
            HookTokenRefusedError: The token is missing or unknown.
        """
        self.verify_token(token)
        return Delivery(
            source=self.destination,
            dedupe_key=self.dedupe_key(raw_body),
            body=raw_body,
            headers={k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS},
            correlation_id=correlation_id or new_id(),
        )

    async def decode(self, delivery: Delivery) -> list[Event]:
        """Fetch the notice's shipments (with items) and return their canonical events.

        Raises:
            DecodeError: A malformed body, a resource type that lists no shipments, a
                ``resource_url`` on another host, or an answer that is not a shipments list.
            RetryLaterError, RateLimitedError: Fetching failed for now; decode again later.
            PermanentFailureError: ShipStation refused the fetch (401, 404).
        """
        notice = parse_notification(delivery.body)
        if notice.resource_type not in NOTIFY_TYPES:
            raise DecodeError(f"resource_type {notice.resource_type!r} lists no shipments")
        if not same_origin(notice.resource_url, self.url):
            raise DecodeError(
                f"resource_url is not on {self.url}: refusing to send credentials elsewhere"
            )
        shipments = await self.fetch_shipments(notice.resource_url)
        return shipment_events(
            shipments,
            source=self.destination,
            correlation_id=delivery.correlation_id or new_id(),
            location=self.location,
        )

    async def fetch_shipments(self, resource_url: str) -> list[dict[str, Any]]:
        """Every shipment behind ``resource_url``, with items, all pages."""
        url = with_items(resource_url)
        page = parse_shipments_page(_json(await self.call("GET", url)))
        shipments = list(page.shipments)
        for number in range(page.page + 1, min(page.pages, MAX_PAGES) + 1):
            more = parse_shipments_page(_json(await self.call("GET", with_page(url, number))))
            shipments += more.shipments
        return shipments

    async def subscribe(
        self,
        target_url: str,
        event: str = "SHIP_NOTIFY",
        *,
        store_id: int | None = None,
        friendly_name: str = "crossdock",
    ) -> int:
        """``POST /webhooks/subscribe``; returns the webhook id."""
        body: dict[str, Any] = {
            "target_url": target_url,
            "event": event,
            "store_id": store_id if store_id is not None else self.store_id,
            "friendly_name": friendly_name,
        }
        answer = _json(await self.call("POST", "/webhooks/subscribe", json=body))
        hook_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(hook_id, int):
            raise PermanentFailureError("ShipStation answered the subscription without an id")
        return hook_id

    # ---- outbound --------------------------------------------------------------------------

    async def upsert_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /orders/createorder`` (an upsert by ``orderKey``); returns the Order."""
        response = await self.call("POST", "/orders/createorder", json=body, idempotent=True)
        order = _json(response)
        if not isinstance(order, dict) or not isinstance(order.get("orderId"), int):
            raise PermanentFailureError("ShipStation answered createorder without an Order")
        return order

    async def get_order(self, order_id: int) -> dict[str, Any]:
        """``GET /orders/{orderId}``."""
        order = _json(await self.call("GET", f"/orders/{order_id}"))
        if not isinstance(order, dict):
            raise PermanentFailureError(f"ShipStation answered order {order_id} without an Order")
        return order

    async def find_order(self, order_key: str, order_number: str) -> dict[str, Any] | None:
        """The order with ``order_key`` among those numbered ``order_number``, if any."""
        answer = _json(
            await self.call(
                "GET", "/orders", params=[("orderNumber", order_number), ("pageSize", 500)]
            )
        )
        orders = answer.get("orders") if isinstance(answer, dict) else None
        for order in orders if isinstance(orders, list) else []:
            if isinstance(order, dict) and order.get("orderKey") == order_key:
                return order
        return None

    @handles(RELEASE_COMMAND)
    async def release_order(self, command: Command) -> JSONObject:
        """Create (or update) the warehouse order; the same ``orderKey`` never duplicates it."""
        order = _order(command.payload)
        key = _order_key(command.payload, order)
        status = str(command.payload.get("order_status") or "awaiting_shipment")
        return _result(await self.upsert_order(self._body(command, order, key, status)))

    @handles(CANCEL_COMMAND)
    async def cancel_order(self, command: Command) -> JSONObject:
        """Cancel through ``createorder`` with ``orderStatus: cancelled``.

        Raises:
            PermanentFailureError: The order is already shipped (too late: handle a return).
        """
        payload = command.payload
        if isinstance(payload.get("order"), dict):
            order = _order(payload)
            body = self._body(command, order, _order_key(payload, order), "cancelled")
        else:
            current = await self.get_order(await self._order_id(payload))
            if current.get("orderStatus") == "cancelled":
                return _result(current) | {"already": True}
            body = {**current, "orderStatus": "cancelled"}
        stored = await self.upsert_order(body)
        if stored.get("orderStatus") != "cancelled":
            raise PermanentFailureError(
                f"ShipStation order {stored['orderId']} is {stored.get('orderStatus')}; "
                "it can no longer be cancelled"
            )
        return _result(stored)

    @handles(HOLD_COMMAND)
    async def hold_order(self, command: Command) -> JSONObject:
        """``POST /orders/holduntil``: on hold until ``hold_until`` (``YYYY-MM-DD``)."""
        until = command.payload.get("hold_until")
        if not isinstance(until, str) or not until:
            raise PermanentFailureError(f"{HOLD_COMMAND} needs hold_until (YYYY-MM-DD)")
        order_id = await self._order_id(command.payload)
        body = {"orderId": order_id, "holdUntilDate": until}
        await self._action("/orders/holduntil", body)
        return {"order_id": order_id, "order_status": "on_hold", "hold_until": until}

    @handles(UNHOLD_COMMAND)
    async def restore_order(self, command: Command) -> JSONObject:
        """``POST /orders/restorefromhold``; an order no longer on hold counts as done."""
        order_id = await self._order_id(command.payload)
        try:
            await self._action("/orders/restorefromhold", {"orderId": order_id})
        except PermanentFailureError as exc:
            if exc.classification is None or exc.classification.status != 400:
                raise
            current = await self.get_order(order_id)
            if current.get("orderStatus") == "on_hold":
                raise
            return _result(current) | {"already": True}
        return {"order_id": order_id, "order_status": "awaiting_shipment"}

    def _body(self, command: Command, order: Order, key: str, status: str) -> dict[str, Any]:
        store = command.payload.get("store_id", self.store_id)
        try:
            return createorder_body(
                order,
                order_key=key,
                order_status=status,
                store_id=store if isinstance(store, int) else None,
            )
        except ValueError as exc:
            raise PermanentFailureError(f"{command.kind}: {exc}") from exc

    async def _action(self, path: str, body: Mapping[str, Any]) -> None:
        answer = _json(await self.call("POST", path, json=body, idempotent=True))
        if isinstance(answer, dict) and answer.get("success") is False:
            raise PermanentFailureError(f"ShipStation refused {path}: {answer.get('message')}")

    async def _order_id(self, payload: Mapping[str, Any]) -> int:
        order_id = payload.get("order_id")
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            return order_id
        key, number = payload.get("order_key"), payload.get("order_number")
        if not isinstance(key, str) or not isinstance(number, str):
            raise PermanentFailureError("the payload needs order_id, or order_key and order_number")
        found = await self.find_order(key, number)
        if found is None:
            raise PermanentFailureError(f"no ShipStation order {number} with orderKey {key}")
        return int(found["orderId"])


def _json(response: HttpResponse) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PermanentFailureError(
            f"ShipStation answered {response.status} with a body that is not JSON",
            detail=response.text[:200],
        ) from exc


def _order(payload: Mapping[str, Any]) -> Order:
    data = payload.get("order")
    if not isinstance(data, dict):
        raise PermanentFailureError("the payload needs the canonical order (order.v1)")
    try:
        return parse_order(data)
    except (ValidationError, OrderTotalsMismatch) as exc:
        reason = "the payload's order is not a valid order.v1"
        raise PermanentFailureError(reason, detail=str(exc)) from exc


def _order_key(payload: Mapping[str, Any], order: Order) -> str:
    key = payload.get("order_key") or order.id
    if not isinstance(key, str) or not key:
        raise PermanentFailureError("no orderKey: give order_key or an order with its hub id")
    return key


def _result(order: Mapping[str, Any]) -> JSONObject:
    return {
        "order_id": order["orderId"],
        "order_key": order.get("orderKey"),
        "order_number": order.get("orderNumber"),
        "order_status": order.get("orderStatus"),
    }
