"""`ShopifyConnector`: webhooks in, Admin API commands out, on the connector kit.

Inbound: `verify` (HMAC over the raw bytes, two secrets during a rotation) and `decode` (every
topic of `crossdock.connectors.shopify.decode.TOPICS` into canonical events).

Outbound command kinds (payloads are JSON objects; Shopify ids are integers):

| kind                 | payload                                                               |
|----------------------|-----------------------------------------------------------------------|
| ``inventory.set``    | ``inventory_item_id, location_id, quantity[, change_from]``           |
| ``fulfillment.create`` | ``order_id, shipments[{tracking_number, company, url, lines}]``   |
| ``order.cancel``     | ``order_id[, reason, restock, email]``                                |
| ``order.refund``     | ``order_id, refund_line_items[...], shipping, transactions?, note``   |
| ``order.annotate``   | ``order_id[, tags_add[...], tags_remove[...], note]``                 |
| ``product.update``   | ``product_id, product{title, body_html, tags, status, ...}``          |
| ``price.update``     | ``product_id, variants[{variant_id, price, compare_at_price}]``       |

A shipment's ``lines`` are ``[{line_item_id, quantity}]`` (partial quantities allowed); without
``lines`` it fulfils everything still open. Each shipment becomes one fulfilment (Shopify keeps
one tracking number per fulfilment).

``order.refund`` goes through GraphQL ``refundCreate`` with ``@idempotent(key:)`` (a UUID derived
from the command's idempotency key and the refund's parameters) when the pinned API version is
2026-01 or later, and through REST ``refunds.json`` before that.

``order.annotate`` reads the order's tags and note, then writes only what changes: GraphQL
``tagsAdd`` / ``tagsRemove`` and an ``orderUpdate`` of the note from 2026-01, a REST
``PUT orders/{id}.json`` before that. Its note line ends with ``[crossdock:<idempotency key>]``
and is appended only when the note does not carry that marker yet.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import (
    ConflictError,
    Connector,
    Outcome,
    PermanentFailureError,
    RetryLaterError,
    Secret,
    handles,
)
from crossdock.connectorkit.auth import ApiTokenAuth, AuthScheme
from crossdock.connectorkit.http import HttpClient, HttpResponse, Params
from crossdock.connectorkit.http._client import UNSET
from crossdock.connectors.shopify.annotate import (
    Annotation,
    AnnotationPlan,
    command_marker,
    marked_note,
    split_tags,
)
from crossdock.connectors.shopify.budget import ShopifyBudget, use_api
from crossdock.connectors.shopify.catalog import variant_inventory_items
from crossdock.connectors.shopify.decode import (
    ORDER_TOPICS,
    TOPICS,
    DecodeContext,
    DecodeError,
    decode_inventory_level,
    decode_order,
    decode_product,
    decode_refund,
    parse_body,
)
from crossdock.connectors.shopify.errors import SHOPIFY_ERROR_TABLE, USER_ERROR_OUTCOMES
from crossdock.connectors.shopify.graphql import (
    ANNOTATE_GRAPHQL_SINCE,
    INVENTORY_ITEM_SKU,
    INVENTORY_QUANTITY,
    ORDER_NOTE_AND_TAGS,
    ORDER_NOTE_UPDATE,
    PRICES_UPDATE,
    REFUND_CREATE_SINCE,
    TAGS_ADD,
    TAGS_REMOVE,
    idempotency_key,
    inventory_set_document,
    refund_create_document,
    user_errors,
)
from crossdock.connectors.shopify.version import VersionStatus, check_api_version
from crossdock.connectors.shopify.webhooks import (
    InvalidSignatureError,
    WebhookHeaders,
    inbox_dedupe_key,
    verify_webhook,
)
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, RateBudget

__all__ = ["ShopifyConnector", "ShopifySettings"]

_STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
_CANCEL_REASONS = frozenset({"customer", "declined", "fraud", "inventory", "other", "staff"})


@dataclass(frozen=True, slots=True)
class ShopifySettings:
    """One shop's configuration.

    Attributes:
        shop_domain: ``acme.myshopify.com``.
        api_version: the pinned Admin API version, e.g. ``2026-01``.
        currency: the shop currency (product bodies do not name it).
        webhook_secrets: the app client secret, then the previous one during a rotation.
        price_list: the hub's price-list code for this shop (default ``shopify:<domain>``).
        location_codes: Shopify location id -> hub location code (default: the id as text).
        settle_attempts: how many times a stale compare-and-set is re-read and re-issued.
        inventory_reason: the ``reason`` of inventory corrections.
        request_timeout: seconds each Admin API call may take (a deadline, never unbounded).
    """

    shop_domain: str
    api_version: str = "2026-01"
    currency: str = "USD"
    webhook_secrets: tuple[str | Secret, ...] = ()
    price_list: str | None = None
    location_codes: Mapping[int, str] = field(default_factory=dict)
    settle_attempts: int = 3
    inventory_reason: str = "correction"
    request_timeout: float = 30.0

    @property
    def source(self) -> str:
        """The event source and default destination name: ``shopify:<shop domain>``."""
        return f"shopify:{self.shop_domain}"


class ShopifyConnector(Connector):
    """The Shopify connector (see the module docstring for the command kinds).

    Args:
        settings: the shop's configuration.
        http: the shared HTTP seam.
        access_token: the Admin API token (``X-Shopify-Access-Token``); or give `auth`.
        auth: an auth scheme instead of `access_token`.
        base_url: the shop's base URL (default ``https://<shop_domain>``; the sandbox's URL in
            tests).
        destination: the destination name (default ``shopify:<shop domain>``).
        rate_budget: default: a `ShopifyBudget` (REST leaky bucket + GraphQL cost bucket).
        breaker: the destination's circuit breaker.
        clock: the clock (version retirement checks use it too).
        logger: a structlog-style logger for the version warning.
    """

    system = "shopify"
    error_table = SHOPIFY_ERROR_TABLE

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        http: HttpClient,
        access_token: str | Secret | None = None,
        auth: AuthScheme | None = None,
        base_url: str | None = None,
        destination: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        logger: Any = None,
    ) -> None:
        self.settings = settings
        if auth is None and access_token is not None:
            auth = ApiTokenAuth(access_token, header="X-Shopify-Access-Token")
        super().__init__(
            http=http,
            destination=destination or settings.source,
            base_url=base_url or f"https://{settings.shop_domain}",
            auth=auth,
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )
        self.inventory_skus: dict[int, str] = {}
        self.logger = logger
        self.version_status: VersionStatus = self.check_version()

    def check_version(self) -> VersionStatus:
        """Re-evaluate the pinned API version against the clock (a long-running process calls
        this daily); logs a warning within 90 days of retirement and an error once past it."""
        self.version_status = check_api_version(self.settings.api_version, self.clock, self.logger)
        return self.version_status

    def build_rate_budget(self) -> RateBudget:
        """Both Shopify quotas behind one budget."""
        return ShopifyBudget(self.destination, clock=self.clock)

    @property
    def api_prefix(self) -> str:
        """``admin/api/<version>``."""
        return f"admin/api/{self.settings.api_version}"

    # ---- transport ----------------------------------------------------------------------------

    async def rest(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object = UNSET,
        idempotent: bool | None = None,
    ) -> HttpResponse:
        """One Admin REST call under the leaky bucket; `path` is relative to ``admin/api/<v>``
        (or an absolute URL, such as a ``Link`` header's next page)."""
        url = path if "://" in path else f"{self.api_prefix}/{path.lstrip('/')}"
        with use_api("rest"):
            return await self.call(
                method,
                url,
                params=params,
                json=json,
                idempotent=idempotent,
                timeout=self.settings.request_timeout,
            )

    async def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, *, cost: float = 10.0
    ) -> Mapping[str, Any]:
        """One GraphQL Admin call under the cost bucket; returns ``data``.

        Every document the connector sends is a read or carries an ``@idempotent`` key or
        absolute values, so a resend after an ambiguous outcome is safe.

        Raises:
            PermanentFailureError: the response carries errors (the table took the rest).
        """
        with use_api("graphql"):
            response = await self.call(
                "POST",
                f"{self.api_prefix}/graphql.json",
                json={"query": query, "variables": dict(variables or {})},
                idempotent=True,
                cost=cost,
                timeout=self.settings.request_timeout,
            )
        body = response.json()
        errors = body.get("errors") if isinstance(body, Mapping) else None
        if errors:
            messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, Mapping))
            raise PermanentFailureError(f"shopify GraphQL errors: {messages}", detail=response.text)
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            raise PermanentFailureError("shopify GraphQL answer without data", detail=response.text)
        return data

    # ---- inbound ------------------------------------------------------------------------------

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Whether the delivery's HMAC matches one of the configured secrets."""
        try:
            verify_webhook(headers, raw_body, self.settings.webhook_secrets)
        except InvalidSignatureError:
            return False
        return True

    def verify_or_raise(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookHeaders:
        """Like `verify`, raising `InvalidSignatureError` (the ingress answers 401)."""
        return verify_webhook(headers, raw_body, self.settings.webhook_secrets)

    def to_delivery(
        self, headers: Mapping[str, str], raw_body: bytes, *, correlation_id: str | None = None
    ) -> Delivery:
        """Verify a webhook and return what the inbox stores (the ingress calls this).

        The dedupe key is `inbox_dedupe_key` (topic + X-Shopify-Event-Id, else the webhook id,
        else a hash of the body). Every X-Shopify-* header is kept, the HMAC included, so that
        the stored delivery can be verified again.

        Raises:
            InvalidSignatureError: answer 401 and store nothing.
        """
        parsed = self.verify_or_raise(headers, raw_body)
        try:
            key = inbox_dedupe_key(parsed)
        except ValueError:
            key = f"body:{hashlib.sha256(raw_body).hexdigest()}"
        kept = {k: v for k, v in headers.items() if k.lower().startswith("x-shopify-")}
        return Delivery(
            source=self.settings.source,
            dedupe_key=key,
            body=raw_body,
            headers=kept,
            correlation_id=correlation_id or new_id(),
        )

    async def decode(self, delivery: Delivery) -> list[Event]:
        """Decode one stored delivery into canonical events.

        Raises:
            DecodeError: malformed JSON, unknown topic, unreadable field (dead-letter it).
            OrderQuarantined: an order whose totals do not add up (quarantine it).
            RetryLaterError: a lookup the decoding needs (refund's order, item's SKU) failed
                for a transient reason.
        """
        headers = WebhookHeaders.parse(delivery.headers)
        topic = headers.topic
        if topic is None:
            raise DecodeError("missing X-Shopify-Topic header")
        if topic not in TOPICS:
            raise DecodeError(f"unknown topic {topic!r}", topic=topic)
        body = parse_body(delivery.body, topic=topic)
        ctx = DecodeContext(
            source=self.settings.source,
            correlation_id=delivery.correlation_id or new_id(),
            currency=self.settings.currency,
            price_list=self.settings.price_list or self.settings.source,
            triggered_at=headers.triggered_at,
        )
        if topic in ORDER_TOPICS:
            return [decode_order(topic, body, ctx)]
        if topic == "refunds/create":
            return decode_refund(body, await self._order_of_refund(body), ctx)
        if topic == "inventory_levels/update":
            return await self._decode_level(body, ctx)
        self.inventory_skus.update(variant_inventory_items(body))
        return decode_product(body, ctx)

    async def _order_of_refund(self, refund: Mapping[str, Any]) -> Mapping[str, Any]:
        order_id = refund.get("order_id")
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            raise DecodeError(
                f"order_id must be an integer, got {order_id!r}", topic="refunds/create"
            )
        return await self.get_order(order_id)

    async def _decode_level(self, body: Mapping[str, Any], ctx: DecodeContext) -> list[Event]:
        item, location = body.get("inventory_item_id"), body.get("location_id")
        if not isinstance(item, int) or not isinstance(location, int):
            raise DecodeError(
                f"inventory_item_id and location_id must be integers, got {item!r}, {location!r}",
                topic="inventory_levels/update",
            )
        if body.get("available") is None:
            return []
        sku = await self.sku_of(item)
        return decode_inventory_level(body, ctx, sku=sku, location=self.location_code(location))

    def location_code(self, location_id: int) -> str:
        """The hub's code of a Shopify location (configured, else the id as text)."""
        return self.settings.location_codes.get(location_id, str(location_id))

    async def sku_of(self, inventory_item_id: int) -> str:
        """The SKU of an inventory item: learnt from products/update, else read by GraphQL.

        Raises:
            DecodeError: the item is unknown or has no SKU.
        """
        known = self.inventory_skus.get(inventory_item_id)
        if known is not None:
            return known
        try:
            data = await self.graphql(
                INVENTORY_ITEM_SKU, {"item": _gid("InventoryItem", inventory_item_id)}, cost=2
            )
        except PermanentFailureError as exc:
            raise DecodeError(f"inventory item {inventory_item_id}: {exc}") from exc
        item = data.get("inventoryItem")
        sku = item.get("sku") if isinstance(item, Mapping) else None
        if not isinstance(sku, str) or not sku.strip():
            raise DecodeError(f"inventory item {inventory_item_id} is unknown or has no SKU")
        self.inventory_skus[inventory_item_id] = sku.strip()
        return sku.strip()

    async def get_order(self, order_id: int) -> Mapping[str, Any]:
        """``GET orders/{id}.json``: the full REST order."""
        response = await self.rest("GET", f"orders/{order_id}.json")
        order = response.json().get("order")
        if not isinstance(order, Mapping):
            raise PermanentFailureError(f"order {order_id}: answer without an order")
        return order

    # ---- inventory ----------------------------------------------------------------------------

    async def available_quantity(self, inventory_item_id: int, location_id: int) -> int:
        """Read the current ``available`` quantity of an item at a location (GraphQL).

        Raises:
            PermanentFailureError: the item is unknown or not stocked at the location.
        """
        data = await self.graphql(
            INVENTORY_QUANTITY,
            {
                "item": _gid("InventoryItem", inventory_item_id),
                "location": _gid("Location", location_id),
            },
            cost=3,
        )
        item = data.get("inventoryItem")
        if not isinstance(item, Mapping):
            raise PermanentFailureError(f"inventory item {inventory_item_id} not found")
        level = item.get("inventoryLevel")
        if not isinstance(level, Mapping):
            raise PermanentFailureError(
                f"inventory item {inventory_item_id} is not stocked at location {location_id}"
            )
        for quantity in level.get("quantities") or []:
            if quantity.get("name") == "available":
                return int(quantity["quantity"])
        raise PermanentFailureError(f"no available quantity for item {inventory_item_id}")

    @handles("inventory.set")
    async def set_inventory(self, command: Command) -> JSONObject:
        """Set an item's available quantity at a location by compare-and-set.

        The compare value is the payload's ``change_from`` or, without it, the quantity read
        now. A stale compare (CHANGE_FROM_QUANTITY_STALE) is settled: the quantity is read
        again; if it already equals the target the command is done, otherwise it is re-issued
        with the fresh value, at most `ShopifySettings.settle_attempts` times, then reported
        as a conflict. Each issue carries ``@idempotent`` with a key derived from the command's
        idempotency key and its parameters.
        """
        payload = command.payload
        item = _int(payload, "inventory_item_id")
        location = _int(payload, "location_id")
        target = _int(payload, "quantity")
        fresh = payload.get("change_from") is None  # a believed value is Shopify's to check
        expected = (
            await self.available_quantity(item, location) if fresh else _int(payload, "change_from")
        )
        result: JSONObject = {
            "inventory_item_id": item,
            "location_id": location,
            "quantity": target,
        }
        # A re-issue after a stale compare reacts to a fresh read: it gets a key of its own.
        # Shopify answers a known @idempotent key with its first answer, a stale compare
        # included, so a re-issue keyed on (target, fresh value) alone would meet the stale
        # answer of an earlier attempt that read the same value, on every outbox retry.
        run = uuid.uuid4().hex
        for issue in range(1, self.settings.settle_attempts + 1):
            if fresh and expected == target:
                return result | {"outcome": "already_at_target", "issues": issue - 1}
            group = await self._inventory_set(
                command, item, location, target, expected, reissue=run if issue > 1 else None
            )
            if group is not None:
                return result | {
                    "outcome": "applied",
                    "change_from": expected,
                    "adjustment_group": group.get("id"),
                    "issues": issue,
                }
            expected, fresh = await self.available_quantity(item, location), True
        if expected == target:
            return result | {
                "outcome": "already_at_target",
                "issues": self.settings.settle_attempts,
            }
        raise ConflictError(
            f"inventory {item}@{location}: still stale after {self.settings.settle_attempts} "
            f"compare-and-set attempts (now {expected}, target {target})"
        )

    async def _inventory_set(
        self,
        command: Command,
        item: int,
        location: int,
        target: int,
        expected: int,
        *,
        reissue: str | None = None,
    ) -> Mapping[str, Any] | None:
        """Issue one compare-and-set; None when the compare was stale.

        The first issue's ``@idempotent`` key is derived from the command and its parameters
        (a resend of the same command is absorbed); a re-issue's also from `reissue`.
        """
        compare_field = (
            "changeFromQuantity" if self.settings.api_version >= "2026-01" else ("compareQuantity")
        )
        variables = {
            "input": {
                "name": "available",
                "reason": self.settings.inventory_reason,
                "referenceDocumentUri": "gid://crossdock/Command/"
                + quote(command.idempotency_key, safe=""),
                "quantities": [
                    {
                        "inventoryItemId": _gid("InventoryItem", item),
                        "locationId": _gid("Location", location),
                        "quantity": target,
                        compare_field: expected,
                    }
                ],
            }
        }
        parts: tuple[object, ...] = (item, location, target, expected)
        key = idempotency_key(command.idempotency_key, *parts, *([reissue] if reissue else []))
        data = await self.graphql(inventory_set_document(key), variables)
        errors = user_errors(data, "inventorySetQuantities")
        codes = {str(e.get("code")) for e in errors}
        if codes & _STALE_CODES:
            return None
        if errors:
            raise _user_error(errors, f"inventory {item}@{location}")
        payload = data.get("inventorySetQuantities")
        group = payload.get("inventoryAdjustmentGroup") if isinstance(payload, Mapping) else None
        return group if isinstance(group, Mapping) else {}

    # ---- fulfilment ---------------------------------------------------------------------------

    @handles("fulfillment.create", idempotent=False)
    async def create_fulfillments(self, command: Command) -> JSONObject:
        """Create one fulfilment per tracking number from the order's fulfilment orders.

        A shipment whose tracking number the order already carries is not created again (the
        settle-by-lookup after a timeout or a crash); a shipment without ``lines`` fulfils
        everything still open.
        """
        order_id = _int(command.payload, "order_id")
        shipments = _shipments(command.payload)
        existing = await self._tracking_numbers(order_id)
        remaining = await self._fulfillment_orders(order_id)
        created: list[JSONObject] = []
        present: list[str] = []
        for shipment in shipments:
            number = shipment.get("tracking_number")
            if number and number in existing:
                present.append(str(number))
                continue
            groups = _allocate(remaining, shipment.get("lines"))
            body = {
                "fulfillment": {
                    "line_items_by_fulfillment_order": groups,
                    "tracking_info": {
                        k: shipment.get(v)
                        for k, v in (
                            ("number", "tracking_number"),
                            ("company", "company"),
                            ("url", "url"),
                        )
                        if shipment.get(v)
                    },
                    "notify_customer": bool(command.payload.get("notify_customer", False)),
                }
            }
            response = await self.rest("POST", "fulfillments.json", json=body, idempotent=False)
            made = response.json().get("fulfillment") or {}
            created.append({"id": made.get("id"), "tracking_number": number})
            if number:
                existing.add(str(number))
        return {"order_id": order_id, "created": created, "already_present": present}

    async def _tracking_numbers(self, order_id: int) -> set[str]:
        response = await self.rest(
            "GET", f"orders/{order_id}.json", params={"fields": "id,fulfillments"}
        )
        order = response.json().get("order") or {}
        numbers: set[str] = set()
        for fulfillment in order.get("fulfillments") or []:
            if fulfillment.get("status") in ("cancelled", "error", "failure"):
                continue
            numbers.update(str(n) for n in fulfillment.get("tracking_numbers") or [] if n)
            if fulfillment.get("tracking_number"):
                numbers.add(str(fulfillment["tracking_number"]))
        return numbers

    async def _fulfillment_orders(self, order_id: int) -> list[dict[str, Any]]:
        response = await self.rest("GET", f"orders/{order_id}/fulfillment_orders.json")
        orders = response.json().get("fulfillment_orders") or []
        return [
            {
                "id": fo["id"],
                "lines": [
                    {
                        "id": line["id"],
                        "line_item_id": line.get("line_item_id"),
                        "left": int(line.get("fulfillable_quantity") or 0),
                    }
                    for line in fo.get("line_items") or []
                ],
            }
            for fo in orders
            if fo.get("status") in ("open", "in_progress")
        ]

    # ---- orders -------------------------------------------------------------------------------

    @handles("order.cancel")
    async def cancel_order(self, command: Command) -> JSONObject:
        """``POST orders/{id}/cancel.json``; an order already cancelled counts as done."""
        order_id = _int(command.payload, "order_id")
        reason = str(command.payload.get("reason") or "other").lower()
        body = {
            "reason": reason if reason in _CANCEL_REASONS else "other",
            "email": bool(command.payload.get("email", False)),
            "restock": bool(command.payload.get("restock", False)),
        }
        try:
            response = await self.rest("POST", f"orders/{order_id}/cancel.json", json=body)
        except PermanentFailureError as exc:
            if exc.classification is None or exc.classification.status != 422:
                raise
            order = await self.get_order(order_id)
            if not order.get("cancelled_at"):
                raise
            return {"order_id": order_id, "cancelled_at": order["cancelled_at"], "already": True}
        order = response.json().get("order") or {}
        return {"order_id": order_id, "cancelled_at": order.get("cancelled_at"), "already": False}

    @handles("order.refund", idempotent=False)
    async def refund_order(self, command: Command) -> JSONObject:
        """Create a refund, calculating the transactions first when the payload gives none.

        From API 2026-01 it is GraphQL ``refundCreate`` with ``@idempotent(key:)`` derived from
        the command's idempotency key, so a resend after a lost answer is absorbed by Shopify;
        older pinned versions use REST ``refunds.json``. Either way the refund note carries
        ``[crossdock:<idempotency key>]`` so that a lookup can tell whether an earlier attempt
        took effect (`settle_ambiguous`)."""
        order_id = _int(command.payload, "order_id")
        refund: dict[str, Any] = {
            "note": marked_note(command),
            "notify": bool(command.payload.get("notify", False)),
            "refund_line_items": list(command.payload.get("refund_line_items") or []),
        }
        if command.payload.get("shipping") is not None:
            refund["shipping"] = command.payload["shipping"]
        if self.settings.api_version >= REFUND_CREATE_SINCE:
            transactions = command.payload.get("transactions")
            if transactions is None:
                transactions = await self._calculate_refund(order_id, refund)
            refund["transactions"] = transactions
            return await self._refund_create(order_id, refund, command)
        found = await self._refund_with_marker(order_id, command)
        if found is not None:
            return found
        transactions = command.payload.get("transactions")
        if transactions is None:
            transactions = await self._calculate_refund(order_id, refund)
        refund["transactions"] = transactions
        response = await self.rest(
            "POST", f"orders/{order_id}/refunds.json", json={"refund": refund}, idempotent=False
        )
        made = response.json().get("refund") or {}
        return {"order_id": order_id, "refund_id": made.get("id"), "already": False}

    async def _refund_create(
        self, order_id: int, refund: Mapping[str, Any], command: Command
    ) -> JSONObject:
        variables = {"input": refund_input(order_id, refund)}
        key = idempotency_key(
            command.idempotency_key, "refundCreate", json.dumps(variables, sort_keys=True)
        )
        data = await self.graphql(refund_create_document(key), variables)
        errors = user_errors(data, "refundCreate")
        if errors:
            raise _user_error(errors, f"order {order_id} refund")
        made = (data.get("refundCreate") or {}).get("refund") or {}
        legacy = made.get("legacyResourceId")
        refund_id = int(legacy) if isinstance(legacy, str) and legacy.isdigit() else legacy
        return {"order_id": order_id, "refund_id": refund_id, "already": False}

    async def _calculate_refund(self, order_id: int, refund: Mapping[str, Any]) -> list[JSONObject]:
        body = {k: v for k, v in refund.items() if k in ("refund_line_items", "shipping")}
        response = await self.rest(
            "POST",
            f"orders/{order_id}/refunds/calculate.json",
            json={"refund": body},
            idempotent=True,
        )
        suggested = (response.json().get("refund") or {}).get("transactions") or []
        return [
            {
                "parent_id": t.get("parent_id"),
                "amount": str(t.get("amount")),
                "kind": "refund",
                "gateway": t.get("gateway"),
            }
            for t in suggested
        ]

    async def _refund_with_marker(self, order_id: int, command: Command) -> JSONObject | None:
        response = await self.rest("GET", f"orders/{order_id}/refunds.json")
        marker = command_marker(command)
        for refund in response.json().get("refunds") or []:
            if marker in str(refund.get("note") or ""):
                return {"order_id": order_id, "refund_id": refund.get("id"), "already": True}
        return None

    @handles("order.annotate")
    async def annotate_order(self, command: Command) -> JSONObject:
        """Add and remove order tags and append a line to the order's note, once.

        The order's tags and note are read first and only what changes is written, so a
        resend (or a retry on another pinned version) writes nothing twice: a tag already
        there is not added again, and the note line is skipped when the note already carries
        the command's marker. From API 2026-01: GraphQL ``tagsAdd`` and ``tagsRemove`` (they
        touch no other tag) and ``orderUpdate`` of the note; before: one REST
        ``PUT orders/{id}.json`` with the whole tag list and note (a tag a merchant adds
        between the read and the write is lost there, as with any REST read-modify-write).

        Raises:
            PermanentFailureError: a malformed payload, an unknown order, or a refusal
                (``userErrors``, REST 422) with Shopify's message.
        """
        order_id = _int(command.payload, "order_id")
        annotation = Annotation.from_command(command, order_id)
        if self.settings.api_version >= ANNOTATE_GRAPHQL_SINCE:
            plan = await self._annotate_graphql(annotation)
        else:
            plan = await self._annotate_rest(annotation)
        return plan.result(order_id)

    async def _annotate_graphql(self, annotation: Annotation) -> AnnotationPlan:
        order_id = annotation.order_id
        order_gid = _gid("Order", order_id)
        data = await self.graphql(ORDER_NOTE_AND_TAGS, {"id": order_gid}, cost=1)
        order = data.get("order")
        if not isinstance(order, Mapping):
            raise PermanentFailureError(self._no_such_order(order_id))
        plan = annotation.plan(split_tags(order.get("tags")), order.get("note"))
        for document, mutation, tags in (
            (TAGS_ADD, "tagsAdd", plan.add),
            (TAGS_REMOVE, "tagsRemove", plan.remove),
        ):
            if tags:
                answer = await self.graphql(document, {"id": order_gid, "tags": list(tags)})
                errors = user_errors(answer, mutation)
                if errors:
                    raise _user_error(errors, f"order {order_id} {mutation}")
        if plan.note is not None:
            answer = await self.graphql(
                ORDER_NOTE_UPDATE, {"input": {"id": order_gid, "note": plan.note}}
            )
            errors = user_errors(answer, "orderUpdate")
            if errors:
                raise _user_error(errors, f"order {order_id} note")
        return plan

    async def _annotate_rest(self, annotation: Annotation) -> AnnotationPlan:
        order_id = annotation.order_id
        try:
            response = await self.rest(
                "GET", f"orders/{order_id}.json", params={"fields": "id,tags,note"}
            )
        except PermanentFailureError as exc:
            if exc.classification is not None and exc.classification.status == 404:
                raise PermanentFailureError(self._no_such_order(order_id)) from exc
            raise
        order = response.json().get("order") or {}
        plan = annotation.plan(split_tags(order.get("tags")), order.get("note"))
        changes: dict[str, Any] = {}
        if plan.tags_changed:
            changes["tags"] = ", ".join(plan.tags)
        if plan.note is not None:
            changes["note"] = plan.note
        if changes:
            await self.rest(
                "PUT", f"orders/{order_id}.json", json={"order": {"id": order_id, **changes}}
            )
        return plan

    def _no_such_order(self, order_id: int) -> str:
        return f"order {order_id} does not exist in {self.settings.shop_domain}"

    # ---- catalogue ----------------------------------------------------------------------------

    @handles("product.update")
    async def update_product(self, command: Command) -> JSONObject:
        """``PUT products/{id}.json`` with the given fields (absolute values: idempotent)."""
        product_id = _int(command.payload, "product_id")
        fields = dict(command.payload.get("product") or {})
        if not fields:
            raise PermanentFailureError("product.update needs a non-empty 'product' object")
        response = await self.rest(
            "PUT", f"products/{product_id}.json", json={"product": {"id": product_id, **fields}}
        )
        product = response.json().get("product") or {}
        return {"product_id": product_id, "updated_at": product.get("updated_at")}

    @handles("price.update")
    async def update_prices(self, command: Command) -> JSONObject:
        """``productVariantsBulkUpdate`` with the variants' new prices (decimal strings)."""
        product_id = _int(command.payload, "product_id")
        variants = []
        for raw in command.payload.get("variants") or []:
            variant: dict[str, Any] = {"id": _gid("ProductVariant", _int(raw, "variant_id"))}
            if raw.get("price") is not None:
                variant["price"] = str(raw["price"])
            if "compare_at_price" in raw:
                compare = raw["compare_at_price"]
                variant["compareAtPrice"] = None if compare is None else str(compare)
            variants.append(variant)
        if not variants:
            raise PermanentFailureError("price.update needs at least one variant")
        data = await self.graphql(
            PRICES_UPDATE, {"productId": _gid("Product", product_id), "variants": variants}
        )
        errors = user_errors(data, "productVariantsBulkUpdate")
        if errors:
            raise _user_error(errors, f"product {product_id} prices")
        updated = (data.get("productVariantsBulkUpdate") or {}).get("productVariants") or []
        return {
            "product_id": product_id,
            "variants": [{"id": v.get("id"), "price": v.get("price")} for v in updated],
        }

    # ---- ambiguity ----------------------------------------------------------------------------

    async def settle_ambiguous(self, command: Command) -> JSONObject | None:
        """Look up whether a fulfilment or refund whose outcome was lost took effect."""
        order_id = _int(command.payload, "order_id")
        if command.kind == "order.refund":
            return await self._refund_with_marker(order_id, command)
        if command.kind == "fulfillment.create":
            wanted = [s.get("tracking_number") for s in _shipments(command.payload)]
            if not wanted or not all(wanted):
                return None  # without tracking numbers there is nothing to look up by
            existing = await self._tracking_numbers(order_id)
            if all(str(n) in existing for n in wanted):
                return {
                    "order_id": order_id,
                    "created": [],
                    "already_present": [str(n) for n in wanted],
                }
            return None
        return None


# ---- helpers --------------------------------------------------------------------------------


def _gid(kind: str, resource_id: int) -> str:
    return f"gid://shopify/{kind}/{resource_id}"


def _int(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        raise PermanentFailureError(f"payload field {key!r} must be an integer, got {value!r}")
    return value


def _shipments(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    shipments = payload.get("shipments")
    if not isinstance(shipments, list) or not shipments:
        raise PermanentFailureError("fulfillment.create needs a non-empty 'shipments' list")
    return [s for s in shipments if isinstance(s, Mapping)]


def _allocate(
    remaining: list[dict[str, Any]], lines: Sequence[Mapping[str, Any]] | None
) -> list[JSONObject]:
    """Split the wanted line quantities over the open fulfilment orders (and consume them)."""
    if not lines:
        groups = [{"fulfillment_order_id": fo["id"]} for fo in remaining if _left(fo)]
        for fo in remaining:
            for line in fo["lines"]:
                line["left"] = 0
        if not groups:
            raise PermanentFailureError("nothing left to fulfil on this order")
        return groups
    picked: dict[int, list[JSONObject]] = {}
    for wanted in lines:
        line_item_id = _int(wanted, "line_item_id")
        need = _int(wanted, "quantity")
        for fo in remaining:
            for line in fo["lines"]:
                if need == 0:
                    break
                if line["line_item_id"] != line_item_id or line["left"] <= 0:
                    continue
                take = min(need, line["left"])
                line["left"] -= take
                need -= take
                picked.setdefault(fo["id"], []).append({"id": line["id"], "quantity": take})
        if need > 0:
            raise PermanentFailureError(
                f"line item {line_item_id}: {need} more than the fulfilment orders have open"
            )
    return [
        {"fulfillment_order_id": fo_id, "fulfillment_order_line_items": items}
        for fo_id, items in picked.items()
    ]


def _left(fo: Mapping[str, Any]) -> bool:
    return any(line["left"] > 0 for line in fo["lines"])


def refund_input(order_id: int, refund: Mapping[str, Any]) -> JSONObject:
    """The GraphQL ``RefundInput`` for a REST-shaped refund body (ids become GIDs)."""
    restock = {"return": "RETURN", "cancel": "CANCEL", "legacy_restock": "LEGACY_RESTOCK"}
    lines = []
    for raw in refund.get("refund_line_items") or []:
        line: dict[str, Any] = {
            "lineItemId": _gid("LineItem", _int(raw, "line_item_id")),
            "quantity": _int(raw, "quantity"),
            "restockType": restock.get(str(raw.get("restock_type")), "NO_RESTOCK"),
        }
        if raw.get("location_id") is not None:
            line["locationId"] = _gid("Location", _int(raw, "location_id"))
        lines.append(line)
    data: dict[str, Any] = {
        "orderId": _gid("Order", order_id),
        "note": refund.get("note"),
        "notify": bool(refund.get("notify", False)),
        "refundLineItems": lines,
    }
    shipping = refund.get("shipping")
    if isinstance(shipping, Mapping):
        if shipping.get("full_refund"):
            data["shipping"] = {"fullRefund": True}
        elif shipping.get("amount") is not None:
            data["shipping"] = {"amount": str(shipping["amount"])}
    transactions = []
    for raw in refund.get("transactions") or []:
        tx: dict[str, Any] = {
            "orderId": _gid("Order", order_id),
            "gateway": str(raw.get("gateway") or ""),
            "kind": "REFUND",
            "amount": str(raw.get("amount")),
        }
        if raw.get("parent_id") is not None:
            tx["parentId"] = _gid("OrderTransaction", _int(raw, "parent_id"))
        transactions.append(tx)
    data["transactions"] = transactions
    return data


def _user_error(errors: Sequence[Mapping[str, Any]], what: str) -> Exception:
    code = str(errors[0].get("code") or "")
    text = "; ".join(
        f"{e['code']}: {e.get('message')}" if e.get("code") else str(e.get("message"))
        for e in errors
    )
    outcome = USER_ERROR_OUTCOMES.get(code, Outcome.PERMANENT)
    message = f"{what}: {text}"
    if outcome is Outcome.RETRY:
        return RetryLaterError(message, retry_after=1.0)
    if outcome is Outcome.CONFLICT:
        return ConflictError(message)
    return PermanentFailureError(message)
