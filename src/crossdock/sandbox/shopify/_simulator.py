"""The Shopify simulator: Admin REST and GraphQL, limits, errors and signed webhooks."""

from __future__ import annotations

import hmac
import random
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.kit import (
    Base64HmacSha256Signer,
    Delivery,
    LeakyBucket,
    RetrySchedule,
    Scenario,
    Simulator,
    SimulatorHTTPError,
    WebhookSender,
    dumps,
    json_response,
)
from crossdock.sandbox.shopify._defaults import SUPPORTED_VERSIONS, default_scenario
from crossdock.sandbox.shopify._edits import EditSession, OrderEdits
from crossdock.sandbox.shopify._errors import ShopError
from crossdock.sandbox.shopify._graphql import ShopifyGraphQL
from crossdock.sandbox.shopify._ids import IdMaker
from crossdock.sandbox.shopify._rest import register_admin_helpers, register_rest
from crossdock.sandbox.shopify._state import ShopState
from crossdock.sandbox.shopify._traffic import random_address, random_order_spec

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "inventory_levels/update",
    "products/update",
    "fulfillments/create",
)
VERSION_KEY = "crossdock.shopify.version"


def effective_version(requested: str) -> str:
    """The version Shopify serves for a requested one: unsupported falls back to the oldest."""
    if requested in SUPPORTED_VERSIONS or requested == "unstable":
        return requested
    return SUPPORTED_VERSIONS[0]


class ShopifySimulator(Simulator):
    """A shop on the Admin API, faithful to the wire contracts (see the package docstring).

    Args:
        scenario: The shop (default: `default_scenario`).
        seed: Overrides the scenario's seed.
        webhook_time_scale: Squeezes Shopify's 4-hour retry schedule (e.g. 0.0001 for tests).
    """

    system = "shopify"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        webhook_time_scale: float | None = None,
    ) -> None:
        self._time_scale = webhook_time_scale
        super().__init__(scenario, seed=seed)

    # -- kit override points ---------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The default shop."""
        return default_scenario()

    def seed_state(self, scenario: Scenario) -> None:
        """Build the shop; limits and idempotency keys start afresh."""
        self.state = ShopState(scenario, self.seed)
        self.edits = OrderEdits(self.state)
        self.rest_buckets: dict[str, LeakyBucket] = {}
        self.graphql = ShopifyGraphQL(self)
        self.traffic_rng = random.Random(f"shopify-traffic:{self.seed}")
        # Request ids come from their own generator, so reads never shift the shop's ids.
        self.request_ids = IdMaker(self.seed + 2)

    @property
    def access_token(self) -> str:
        """The Admin API access token the simulator accepts."""
        return str(self.state.shop.get("access_token", "shpat_sandbox"))

    @property
    def client_secret(self) -> str:
        """The app's client secret: the webhook HMAC key."""
        return str(self.state.shop.get("client_secret", "sandbox-secret"))

    def make_webhook_sender(self) -> WebhookSender:
        """Base64 HMAC-SHA256 signatures; 8 retries over 4 hours."""
        data = self.scenario.data.get("shop", {})
        scale = self._time_scale
        if scale is None:
            scale = float(self.scenario.data.get("webhooks", {}).get("time_scale", 1.0))
        ids = IdMaker(self.seed + 1)
        return WebhookSender(
            Base64HmacSha256Signer(str(data.get("client_secret", "sandbox-secret"))),
            RetrySchedule.shopify(time_scale=scale),
            headers=self._webhook_headers,
            seed=self.seed,
            timeout_s=5.0,
            connect_timeout_s=1.0,
            id_factory=ids.uuid,
        )

    def _webhook_headers(self, delivery: Delivery) -> dict[str, str]:
        shop = self.state.shop
        headers = {
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Shop-Domain": str(shop.get("domain")),
            "X-Shopify-API-Version": str(shop.get("webhook_api_version", SUPPORTED_VERSIONS[-1])),
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
            "User-Agent": "Shopify-Captain-Hook",
        }
        if delivery.subscription_name:
            headers["X-Shopify-Name"] = delivery.subscription_name
        return headers

    async def authenticate(self, request: Request) -> None:
        """``X-Shopify-Access-Token`` must be the shop's token (compared in constant time)."""
        given = request.headers.get("x-shopify-access-token", "")
        if not hmac.compare_digest(given.encode(), self.access_token.encode()):
            raise SimulatorHTTPError(json_response({"errors": INVALID_TOKEN}, 401))
        requested = request.path_params.get("version", "")
        version = effective_version(requested)
        request.scope[VERSION_KEY] = version
        self.add_response_header(request, "X-Shopify-API-Version", version)
        self.add_response_header(request, "X-Request-Id", self.request_ids.uuid())

    async def rate_limit(self, request: Request) -> None:
        """The REST leaky bucket (GraphQL has its own cost bucket)."""
        if request.url.path.endswith("/graphql.json"):
            return
        shop = self.state.shop
        bucket = self.rest_buckets.setdefault(
            self.access_token,
            LeakyBucket(
                float(shop.get("rest_bucket_size", 40)), float(shop.get("rest_leak_per_s", 2))
            ),
        )
        taken = bucket.take(factor=self.faults.throttle_factor)
        # A refused call sees a full bucket, as Shopify reports it ("40/40" with the 429).
        used = min(round(taken.used), int(taken.capacity)) if taken.allowed else taken.capacity
        self.add_response_header(
            request, "X-Shopify-Shop-Api-Call-Limit", f"{int(used)}/{int(taken.capacity)}"
        )
        if not taken.allowed:
            message = (
                f"Exceeded {taken.leak_per_s:g} calls per second for api client. "
                "Reduce request rates to resume uninterrupted service."
            )
            retry_after = max(1.0, round(taken.retry_after_s + 0.05, 1))
            raise SimulatorHTTPError(
                json_response({"errors": message}, 429, {"Retry-After": f"{retry_after:.1f}"})
            )

    def error_response(self, status: int) -> Response:
        """Shopify's error bodies: ``{"errors": "..."}``."""
        messages = {
            400: "Bad Request",
            401: INVALID_TOKEN,
            402: "Unavailable Shop",
            403: "Forbidden",
            404: "Not Found",
            406: "Not Acceptable",
            423: "Locked",
            429: "Exceeded 2 calls per second for api client.",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }
        headers = {"Retry-After": "2.0"} if status in {429, 503} else {}
        return json_response({"errors": messages.get(status, "Error")}, status, headers)

    def credentials(self) -> dict[str, Any]:
        """Shop domain, token, webhook secret and the versioned API base."""
        shop = self.state.shop
        version = str(shop.get("webhook_api_version", SUPPORTED_VERSIONS[-1]))
        return {
            "shop_domain": shop.get("domain"),
            "access_token": self.access_token,
            "client_secret": self.client_secret,
            "api_version": version,
            "admin_api_url": "{base_url}/admin/api/" + version,
            "graphql_url": "{base_url}/admin/api/" + version + "/graphql.json",
            "webhook_topics": list(TOPICS),
        }

    def register_routes(self, app: FastAPI) -> None:
        """The Admin REST and GraphQL endpoints."""
        register_rest(app, self)

    def register_admin_routes(self, router: Any) -> None:
        """Storefront helpers under ``/_sandbox/shopify``."""
        register_admin_helpers(router, self)

    # -- webhooks --------------------------------------------------------------------------

    def rotate_client_secret(self, secret: str) -> None:
        """Sign every delivery from now on (retries included) with a new client secret."""
        self.state.shop["client_secret"] = secret
        if self.webhooks is not None:
            self.webhooks.signer = Base64HmacSha256Signer(secret)

    def emit(self, topic: str, payload: dict[str, Any], event_id: str | None = None) -> None:
        """Send ``payload`` (serialised once, raw UTF-8) to every subscription of ``topic``."""
        if self.webhooks is None:
            return
        self.webhooks.emit(
            topic,
            dumps(payload),
            event_id=event_id or self.state.ids.uuid(),
            triggered_at=datetime.now(UTC),
        )

    def emit_level(self, item_id: int, location_id: int) -> None:
        """``inventory_levels/update`` for one level."""
        self.emit("inventory_levels/update", self.state.level_payload(item_id, location_id))

    def emit_product(self, product_id: int) -> None:
        """``products/update`` with the full product."""
        self.emit("products/update", self.state.product(product_id))

    def emit_order(self, order: dict[str, Any], *topics: str) -> None:
        """The full order to each topic; one merchant action shares one event id."""
        event_id = self.state.ids.uuid()
        for topic in topics:
            self.emit(topic, order, event_id=event_id)

    def after_fulfillment(self, fulfillment: dict[str, Any]) -> None:
        """Record the effect and tell the subscribers."""
        order = self.state.order(fulfillment["order_id"])
        self.effects.created(
            "fulfillment", str(order["id"]), state=order["fulfillment_status"] or "unfulfilled"
        )
        self.emit("fulfillments/create", fulfillment)
        self.emit_order(order, "orders/updated")

    def cancel(self, order_id: int, reason: str, restock: bool) -> dict[str, Any]:
        """Cancel an order: the effect, then ``orders/cancelled`` and ``orders/updated``."""
        self.effects.attempt("cancel", str(order_id))
        try:
            order = self.state.cancel_order(order_id, reason, restock)
        except ShopError as exc:
            if exc.status == 422:
                self.effects.refused("cancel", str(order_id))
            raise
        self.effects.created("cancel", str(order_id), state="cancelled")
        self.emit_order(order, "orders/cancelled", "orders/updated")
        return order

    def refund(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Refund: the effect, then ``refunds/create``, stock updates and ``orders/updated``."""
        self.effects.attempt("refund", str(order_id))
        try:
            made = self.state.payments.create(order_id, body)
        except ShopError:
            self.effects.refused("refund", str(order_id))
            raise
        self.effects.created("refund", str(order_id), state=made["id"])
        self.emit("refunds/create", made)
        for line in made["refund_line_items"]:
            variant_id = line["line_item"]["variant_id"]
            if line["restock_type"] in {"return", "cancel"} and variant_id is not None:
                item_id = self.state.variants[variant_id]["inventory_item_id"]
                self.emit_level(item_id, int(line["location_id"]))
        self.emit_order(self.state.order(order_id), "orders/updated")
        return made

    def commit_edit(self, session: EditSession, staff_note: str | None = None) -> dict[str, Any]:
        """Commit an order edit: the effect, stock webhooks, then ``orders/updated``.

        Shopify also has an ``orders/edited`` topic; the simulator does not send it (the
        ``orders/updated`` body carries the edited order, which is what the connector maps).
        """
        key = str(session.order_id)
        self.effects.attempt("order_edit", key)
        levels_before = self._levels_of(session.order_id)
        try:
            done = self.edits.commit(session, staff_note)
        except ShopError:
            self.effects.refused("order_edit", key)
            raise
        order: dict[str, Any] = done["order"]
        self.effects.created("order_edit", key, state=order["current_total_price"])
        for item_id, location_id in sorted(self._levels_of(session.order_id) | levels_before):
            self.emit_level(item_id, location_id)
        self.emit_order(order, "orders/updated")
        return order

    def _levels_of(self, order_id: int) -> set[tuple[int, int]]:
        location_id = next(iter(self.state.locations))
        return {
            (self.state.variants[ln["variant_id"]]["inventory_item_id"], location_id)
            for ln in self.state.order(order_id)["line_items"]
            if ln["variant_id"] is not None
        }

    def update_order(self, order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """``PUT /orders/{id}.json`` (and GraphQL ``orderUpdate``, ``tagsAdd``,
        ``tagsRemove``): shipping address, email, note, tags; the effect, ``orders/updated``."""
        key = str(order_id)
        self.effects.attempt("order_update", key)
        try:
            order = self.state.update_order(order_id, changes)
        except ShopError:
            self.effects.refused("order_update", key)
            raise
        self.effects.created("order_update", key, state=order["updated_at"])
        self.emit_order(order, "orders/updated")
        return order

    def edit_order(
        self,
        order_id: int,
        quantities: dict[int, int] | None = None,
        add: list[tuple[int, int]] | None = None,
        restock: bool = True,
    ) -> dict[str, Any]:
        """One whole order edit (begin, stage, commit), as a merchant does it in the admin."""
        session = self.edits.begin(order_id)
        for line_id, quantity in (quantities or {}).items():
            self.edits.set_quantity(session, line_id, quantity, restock)
        for variant_id, quantity in add or []:
            self.edits.add_variant(session, variant_id, quantity)
        return self.commit_edit(session)

    def generate_traffic(self, count: int) -> dict[str, Any]:
        """Place ``count`` realistic orders; some are then edited, cancelled or partly refunded.

        Edits (about one order in six): a line's quantity lowered, a line removed, another
        variant added, or the shipping address changed.
        """
        rng = self.traffic_rng
        gift = next((v for v in self.state.variants.values() if v["gift_card"]), None)
        placed: list[int] = []
        edited: list[int] = []
        for _ in range(count):
            skus = self.state.in_stock_skus(at_least=9)
            if not skus:
                return {"error": "out of stock", "order_ids": placed, "edited": edited}
            spec = random_order_spec(rng, skus, None)
            if gift is not None and rng.random() < 0.1:
                spec["line_items"].append({"variant_id": gift["id"], "gift_card": True})
            order = self.place_order(spec)
            placed.append(order["id"])
            follow_up = rng.random()
            if follow_up < 0.08:
                self.cancel(order["id"], rng.choice(["customer", "inventory", "fraud"]), True)
            elif follow_up < 0.18:
                line = order["line_items"][0]
                refund_line = {"line_item_id": line["id"], "quantity": 1}
                if line["fulfillable_quantity"]:
                    refund_line["restock_type"] = "cancel"
                self.refund(order["id"], {"refund_line_items": [refund_line]})
            elif follow_up < 0.34:
                self._random_edit(rng, order, skus)
                edited.append(order["id"])
        return {"order_ids": placed, "edited": edited}

    def _random_edit(self, rng: random.Random, order: dict[str, Any], skus: list[str]) -> None:
        lines = [ln for ln in order["line_items"] if ln["fulfillable_quantity"] > 0]
        kind = rng.choice(["quantity", "remove", "add", "address"])
        several = [ln for ln in lines if ln["current_quantity"] > 1]
        if kind == "quantity" and several:
            line = rng.choice(several)
            self.edit_order(order["id"], {line["id"]: line["current_quantity"] - 1})
        elif kind == "remove" and len(lines) > 1:
            self.edit_order(order["id"], {rng.choice(lines)["id"]: 0})
        elif kind in {"add", "quantity", "remove"}:
            by_sku = {v["sku"]: v for v in self.state.variants.values() if v["sku"]}
            variant = by_sku[rng.choice(skus)]
            self.edit_order(order["id"], add=[(variant["id"], rng.choice([1, 2]))])
        else:
            self.update_order(order["id"], {"shipping_address": random_address(rng)})

    def place_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A storefront checkout: the order, its stock movements and their webhooks."""
        order, moved = self.state.create_order(spec)
        self.effects.created("order", str(order["id"]), state="open")
        self.emit_order(order, "orders/create")
        for item_id, location_id in moved:
            self.emit_level(item_id, location_id)
        return order
