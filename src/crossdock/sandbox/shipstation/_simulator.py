"""The ShipStation V1 simulator: Basic auth, the per-key-pair window, orders, shipments, hooks."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.kit import (
    RetrySchedule,
    Scenario,
    Simulator,
    SimulatorHTTPError,
    WebhookSender,
    json_response,
)
from crossdock.sandbox.shipstation._defaults import WEBHOOK_EVENTS, default_scenario
from crossdock.sandbox.shipstation._errors import error_response, message_body
from crossdock.sandbox.shipstation._json import dumps
from crossdock.sandbox.shipstation._state import ShipStationState
from crossdock.sandbox.shipstation._window import FixedWindow

KEY_SCOPE = "crossdock.shipstation.api_key"


class _Sender(WebhookSender):
    """The kit's sender; closing it (at the app's shutdown) also stops automatic shipping."""

    on_close: Callable[[], Awaitable[None]] | None = None

    async def close(self) -> None:
        if self.on_close is not None:
            await self.on_close()
        await super().close()


class _Unsigned:
    """ShipStation V1 signs nothing: the target URL carries the receiver's secret token."""

    def sign(self, body: bytes) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class AutoShip:
    """Automatic warehouse progression for orders awaiting shipment.

    Attributes:
        first_after_s: Seconds until the first shipment.
        rest_after_s: Seconds after that until the rest ships (when split).
        split: Ship about half the units first and the rest later (a partial shipment).
    """

    first_after_s: float = 0.5
    rest_after_s: float = 0.5
    split: bool = True


class ShipStationSimulator(Simulator):
    """A ShipStation V1 account, faithful to the wire contracts (section 5.1).

    Args:
        scenario: The account (default: `default_scenario`).
        seed: Overrides the scenario's seed.
        rate_limit: Requests per window per key pair (default: the scenario's, 40).
        rate_window_s: The window length in seconds (default: the scenario's, 60).
        webhook_time_scale: Squeezes the webhook retry schedule (e.g. 0.001 in tests).
        auto_ship: Ship awaiting orders on their own (partially, then the rest).
    """

    system = "shipstation"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        rate_limit: int | None = None,
        rate_window_s: float | None = None,
        webhook_time_scale: float | None = None,
        auto_ship: AutoShip | None = None,
    ) -> None:
        self._rate_override = (rate_limit, rate_window_s)
        self._time_scale = webhook_time_scale
        self._auto_tasks: set[asyncio.Task[None]] = set()
        super().__init__(scenario, seed=seed)
        self.auto_ship = auto_ship if auto_ship is not None else self._scenario_auto_ship()

    # -- kit override points ---------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The default account."""
        return default_scenario()

    def seed_state(self, scenario: Scenario) -> None:
        """Build the account; windows, hooks and pending automatic shipments start afresh."""
        for task in list(self._auto_tasks):
            task.cancel()
        self._auto_tasks.clear()
        data = scenario.data
        self.state = ShipStationState(data, self.seed)
        self.accounts = {str(a["api_key"]): str(a["api_secret"]) for a in data.get("accounts", [])}
        limits = data.get("rate_limit", {})
        limit = self._rate_override[0] or int(limits.get("limit", 40))
        window = self._rate_override[1] or float(limits.get("window_s", 60))
        self.window = FixedWindow(limit, window)
        self.hooks: dict[int, dict[str, Any]] = {}
        self.notify_on_void = bool(data.get("webhooks", {}).get("notify_on_void", True))
        self.public_url = ""

    def _scenario_auto_ship(self) -> AutoShip | None:
        spec = self.scenario.data.get("auto_ship")
        if not spec:
            return None
        return AutoShip(
            float(spec.get("first_after_s", 0.5)),
            float(spec.get("rest_after_s", 0.5)),
            bool(spec.get("split", True)),
        )

    def make_webhook_sender(self) -> WebhookSender:
        """Unsigned deliveries; a few retries with backoff (ShipStation documents no schedule)."""
        scale = self._time_scale
        if scale is None:
            scale = float(self.scenario.data.get("webhooks", {}).get("time_scale", 1.0))
        sender = _Sender(
            _Unsigned(),
            RetrySchedule.exponential(5, 3600.0, time_scale=scale),
            headers=lambda _: {"User-Agent": "ShipStation-Webhooks/1.0"},
            seed=self.seed,
            timeout_s=10.0,
            connect_timeout_s=2.0,
        )
        sender.on_close = self.close
        return sender

    async def authenticate(self, request: Request) -> None:
        """``Authorization: Basic base64(APIKey:APISecret)`` for a known key pair."""
        key = _basic_key(request.headers.get("authorization", ""), self.accounts)
        if key is None:
            challenge = {"WWW-Authenticate": 'Basic realm="ShipStation"'}
            raise SimulatorHTTPError(error_response(401, challenge))
        request.scope[KEY_SCOPE] = key
        self.public_url = str(request.base_url).rstrip("/")
        for order in self.state.wake_holds():
            self.after_order_write(order, self.public_url)

    async def rate_limit(self, request: Request) -> None:
        """40 requests per minute per key pair, reported in X-Rate-Limit-* on every answer."""
        key = request.scope.get(KEY_SCOPE, "")
        taken = self.window.take(key, factor=self.faults.throttle_factor)
        self.add_response_header(request, "X-Rate-Limit-Limit", str(taken.limit))
        self.add_response_header(request, "X-Rate-Limit-Remaining", str(taken.remaining))
        self.add_response_header(request, "X-Rate-Limit-Reset", str(taken.reset_s))
        if not taken.allowed:
            raise SimulatorHTTPError(json_response(message_body(429), 429))

    def error_response(self, status: int) -> Response:
        """ShipStation's Web API error bodies."""
        return error_response(status)

    def credentials(self) -> dict[str, Any]:
        """The key pair, the API root and the webhook events."""
        key, secret = next(iter(self.accounts.items()), ("", ""))
        return {
            "api_key": key,
            "api_secret": secret,
            "api_url": "{base_url}",
            "store_id": self.scenario.data.get("store_id"),
            "rate_limit": {"limit": self.window.limit, "window_s": self.window.window_s},
            "webhook_events": list(WEBHOOK_EVENTS),
        }

    def register_routes(self, app: FastAPI) -> None:
        """The V1 endpoints."""
        from crossdock.sandbox.shipstation._routes import register_routes

        register_routes(app, self)

    def register_admin_routes(self, router: APIRouter) -> None:
        """Warehouse actions under ``/_sandbox/shipstation``."""
        from crossdock.sandbox.shipstation._admin import register_admin_routes

        register_admin_routes(router, self)

    # -- warehouse actions -----------------------------------------------------------------

    def ship(
        self,
        order_id: int,
        spec: dict[str, Any],
        *,
        base_url: str | None = None,
        notify: bool = True,
    ) -> tuple[dict[str, Any], int]:
        """Ship units of an order, record the effect and send SHIP_NOTIFY for a new batch.

        Returns:
            The shipment (with its items) and the batch id.
        """
        shipment = self.state.ship(order_id, spec)
        key = str(shipment["orderKey"])
        self.effects.created("shipment", key, state=shipment["shipmentId"])
        self.effects.state("order", key, self.state.orders[order_id]["orderStatus"])
        batch = self.state.new_batch([shipment["shipmentId"]])
        if notify:
            self.notify_batch(batch, base_url)
        return self.state.shipment_view(shipment, with_items=True), batch

    def void(
        self, shipment_id: int, *, base_url: str | None = None, notify: bool | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Void a label; a first void is recorded and (by default) notified in a new batch.

        Returns:
            The shipment and whether it had been voided already.
        """
        shipment, already = self.state.void(shipment_id)
        key = str(shipment["orderKey"])
        self.effects.attempt("void", key)
        if already:
            self.effects.absorbed("void", key)
        else:
            self.effects.created("void", key, state=shipment_id)
            self.effects.state("order", key, self.state.orders[shipment["orderId"]]["orderStatus"])
            if self.notify_on_void if notify is None else notify:
                self.notify_batch(self.state.new_batch([shipment_id]), base_url)
        return self.state.shipment_view(shipment, with_items=True), already

    def notify_batch(self, batch_id: int, base_url: str | None = None) -> None:
        """SHIP_NOTIFY (and ITEM_SHIP_NOTIFY) whose body is only the batch's resource URL."""
        if self.webhooks is None:
            return
        root = (base_url or self.public_url).rstrip("/")
        for event, items in (("SHIP_NOTIFY", "False"), ("ITEM_SHIP_NOTIFY", "True")):
            url = f"{root}/shipments?batchId={batch_id}&includeShipmentItems={items}"
            self.webhooks.emit(event, dumps({"resource_url": url, "resource_type": event}))

    def after_order_write(self, order: dict[str, Any], base_url: str) -> None:
        """Start automatic progression for an order that now awaits shipment."""
        if self.auto_ship is None or order["orderStatus"] != "awaiting_shipment":
            return
        task = asyncio.get_running_loop().create_task(
            self._progress(order["orderId"], self.auto_ship, base_url)
        )
        self._auto_tasks.add(task)
        task.add_done_callback(self._auto_tasks.discard)

    async def _progress(self, order_id: int, plan: AutoShip, base_url: str) -> None:
        await asyncio.sleep(plan.first_after_s)
        order = self.state.orders.get(order_id)
        if order is None or order["orderStatus"] != "awaiting_shipment":
            return
        first = _first_half(self.state.remaining(order)) if plan.split else None
        self.ship(order_id, {"items": first} if first else {}, base_url=base_url)
        if first:
            await asyncio.sleep(plan.rest_after_s)
            if self.state.orders[order_id]["orderStatus"] == "awaiting_shipment":
                self.ship(order_id, {}, base_url=base_url)

    async def close(self) -> None:
        """Cancel pending automatic shipments (also done when the app shuts down)."""
        tasks = list(self._auto_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _first_half(left: dict[int, int]) -> list[dict[str, int]] | None:
    units = sum(left.values())
    if units < 2:
        return None
    want = units // 2
    picked = []
    for item_id, qty in sorted(left.items()):
        take = min(qty, want)
        if take:
            picked.append({"orderItemId": item_id, "quantity": take})
            want -= take
    return picked


def _basic_key(header: str, accounts: dict[str, str]) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    expected = accounts.get(key)
    if not sep or expected is None:
        return None
    return key if hmac.compare_digest(secret.encode(), expected.encode()) else None
