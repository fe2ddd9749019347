"""Turn Shopify webhook bodies into canonical events (pure functions, no I/O).

Every event gets:

- ``source`` = ``shopify:<shop domain>``;
- ``subject`` = a stable key: the Shopify GID of the order, product or refund, ``<sku>@<location>``
  for stock, ``<price list>:<sku>`` for a price;
- ``time`` = the **source** timestamp (the resource's ``updated_at``, else
  X-Shopify-Triggered-At), so that an older update arriving late can be recognised as stale;
- ``id`` = a UUID derived from (source, type, state key), where the state key is, for an order,
  ``order:<id>@<updated_at>#<digest of the canonical order>``. The same order state therefore
  gives the same event id whether it came by webhook, by a retried or duplicated webhook, or by
  backfill, and the event log (which ignores a second event with a known id) keeps one; two
  different states within the same second of ``updated_at`` (Shopify's resolution) stay two
  events. A stock level's key likewise carries its quantity.

Outcomes other than events are exceptions: `DecodeError` (malformed JSON, unknown topic, an
unreadable field: store it and dead-letter it with its reason) and `OrderQuarantined` (the
totals do not add up: quarantine it with the difference).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.mapping import MappingError, timestamp_or_none
from crossdock.canonical.money import Money, MoneyError, decimal_json_loads
from crossdock.canonical.refs import OrderRef
from crossdock.canonical.returns import Return
from crossdock.canonical.totals import OrderTotalsMismatch
from crossdock.connectors.shopify.catalog import (
    inventory_level_from_shopify,
    prices_from_shopify_product,
    product_from_shopify,
)
from crossdock.connectors.shopify.orders import (
    order_from_shopify,
    refund_from_shopify,
    return_lines_from_shopify_refund,
)

__all__ = [
    "EVENT_NAMESPACE",
    "ORDER_TOPICS",
    "TOPICS",
    "DecodeContext",
    "DecodeError",
    "OrderQuarantined",
    "decode_inventory_level",
    "decode_order",
    "decode_product",
    "decode_refund",
    "event_id_for",
    "order_state_key",
    "parse_body",
]

EVENT_NAMESPACE = uuid.UUID("6f1d3c52-7b0e-4f0c-9a51-3c8f5c1b2a10")
ORDER_TOPICS: Mapping[str, EventType] = {
    "orders/create": EventType.ORDER_PLACED,
    "orders/updated": EventType.ORDER_UPDATED,
    "orders/cancelled": EventType.ORDER_CANCELLED,
}
TOPICS = (*ORDER_TOPICS, "refunds/create", "inventory_levels/update", "products/update")

Payload = Mapping[str, Any]


class DecodeError(Exception):
    """A delivery that cannot become canonical events; store it and dead-letter it.

    Attributes:
        reason: why, in words an operator reads.
        topic: the delivery's topic, if known.
    """

    def __init__(self, reason: str, *, topic: str | None = None) -> None:
        self.reason = reason
        self.topic = topic
        super().__init__(f"shopify {topic or 'delivery'}: {reason}")


class OrderQuarantined(Exception):  # noqa: N818 - names the outcome, like the other outcomes
    """An order whose stated totals do not add up: quarantine it; other deliveries go on.

    Attributes:
        order_id: the Shopify order id.
        order_name: the order's display name, e.g. ``#1042``.
        mismatch: the totals check that failed (stated, computed, field).
        difference: ``stated - computed``.
    """

    def __init__(self, order_id: int | None, order_name: str, mismatch: OrderTotalsMismatch):
        self.order_id = order_id
        self.order_name = order_name
        self.mismatch = mismatch
        self.difference: Money = mismatch.difference
        super().__init__(f"shopify order {order_id} quarantined: {mismatch}")


@dataclass(frozen=True, slots=True)
class DecodeContext:
    """What decoding needs besides the body.

    Attributes:
        source: the event source, ``shopify:<shop domain>``.
        correlation_id: carried by every event of the delivery.
        currency: the shop currency (product bodies do not name it).
        price_list: the hub's price-list code for this shop's prices.
        triggered_at: X-Shopify-Triggered-At, the fallback source time.
    """

    source: str
    correlation_id: str
    currency: str
    price_list: str
    triggered_at: datetime | None = None


def parse_body(raw: bytes, *, topic: str | None = None) -> dict[str, Any]:
    """Decode a body as JSON with exact decimals; it must be an object.

    Raises:
        DecodeError: not UTF-8, not JSON, or not a JSON object.
    """
    try:
        body = decimal_json_loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"malformed JSON: {exc}", topic=topic) from exc
    if not isinstance(body, dict):
        raise DecodeError(f"body is a JSON {type(body).__name__}, not an object", topic=topic)
    return body


def order_state_key(payload: Payload) -> str:
    """The key of one state of an order: ``order:<id>@<updated_at in UTC>``.

    Webhooks and backfill compute it the same way, so the same state yields the same events.
    """
    updated = timestamp_or_none(payload.get("updated_at"), field="updated_at")
    stamp = updated.astimezone(UTC).isoformat() if updated else "?"
    return f"order:{payload.get('id')}@{stamp}"


def _digest(entity: BaseModel) -> str:
    # The canonical form, so that a webhook and a backfill read of one state agree.
    return hashlib.sha256(entity.model_dump_json().encode()).hexdigest()[:16]


def event_id_for(source: str, event_type: str, state_key: str) -> str:
    """A deterministic event id (UUIDv5) for one type of event about one source state."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{source}|{event_type}|{state_key}"))


def decode_order(topic: str, payload: Payload, ctx: DecodeContext) -> Event:
    """Decode an ``orders/create|updated|cancelled`` body into one order event.

    Raises:
        OrderQuarantined: the totals do not add up.
        DecodeError: the body cannot be read as an order.
    """
    event_type = ORDER_TOPICS.get(topic)
    if event_type is None:
        raise DecodeError(f"not an order topic: {topic!r}", topic=topic)
    order_id = _int_id(payload, topic)
    try:
        order = order_from_shopify(payload)
    except OrderTotalsMismatch as exc:
        raise OrderQuarantined(order_id, str(payload.get("name") or order_id), exc) from exc
    except (MappingError, MoneyError, ValidationError, KeyError, TypeError) as exc:
        raise DecodeError(f"order {order_id}: {_reason(exc)}", topic=topic) from exc
    return _event(
        ctx,
        event_type,
        state_key=f"{order_state_key(payload)}#{_digest(order)}",
        subject=_gid(payload, "Order", order_id),
        time=order.updated_at or ctx.triggered_at,
        data=order,
    )


def decode_refund(
    payload: Payload, order_payload: Payload | None, ctx: DecodeContext
) -> list[Event]:
    """Decode a ``refunds/create`` body.

    Emits ``order.refunded`` with the order after the refund (`order_payload`, read from the Admin
    API by the connector, since the refund body does not carry it) and, when units come back
    (restock type ``return``), ``return.refunded`` with the returned lines and the refund.

    Raises:
        DecodeError: the body cannot be read.
        OrderQuarantined: the order's totals do not add up.
    """
    topic = "refunds/create"
    refund_id = _int_id(payload, topic)
    try:
        refund = refund_from_shopify(payload)
        lines = return_lines_from_shopify_refund(payload)
    except (MappingError, MoneyError, ValidationError, KeyError, TypeError) as exc:
        raise DecodeError(f"refund {refund_id}: {_reason(exc)}", topic=topic) from exc
    when = refund.refunded_at or ctx.triggered_at
    state_key = f"refund:{refund_id}"
    events: list[Event] = []
    order_number: str | None = None
    if order_payload is not None:
        order_event = decode_order("orders/updated", order_payload, ctx)
        order_number = str(order_payload.get("name") or "") or None
        events.append(
            _event(
                ctx,
                EventType.ORDER_REFUNDED,
                state_key=state_key,
                subject=order_event.subject or _gid(order_payload, "Order", 0),
                time=when,
                data=order_event.data,
            )
        )
    if lines:
        if when is None:
            raise DecodeError(f"refund {refund_id}: no created_at or processed_at", topic=topic)
        returned = Return(
            order=OrderRef(number=order_number or f"shopify:{payload.get('order_id')}"),
            number=_return_number(payload),
            lines=lines,
            status="refunded",
            refund=refund,
            requested_at=when,
        )
        events.append(
            _event(
                ctx,
                EventType.RETURN_REFUNDED,
                state_key=state_key,
                subject=_gid(payload, "Refund", refund_id),
                time=when,
                data=returned,
            )
        )
    return events


def decode_inventory_level(
    payload: Payload, ctx: DecodeContext, *, sku: str, location: str
) -> list[Event]:
    """Decode an ``inventory_levels/update`` body (no event when ``available`` is null).

    Raises:
        DecodeError: ``available`` or ``updated_at`` cannot be read.
    """
    topic = "inventory_levels/update"
    try:
        level = inventory_level_from_shopify(payload, sku=sku, location=location, source=ctx.source)
    except (MappingError, ValidationError) as exc:
        raise DecodeError(_reason(exc), topic=topic) from exc
    if level is None:
        return []
    state_key = (
        f"level:{payload.get('inventory_item_id')}@{payload.get('location_id')}"
        f"@{level.as_of.astimezone(UTC).isoformat()}@{level.available}"
    )
    return [
        _event(
            ctx,
            EventType.INVENTORY_CHANGED,
            state_key=state_key,
            subject=f"{sku}@{location}",
            time=level.as_of,
            data=level,
        )
    ]


def decode_product(payload: Payload, ctx: DecodeContext) -> list[Event]:
    """Decode a ``products/update`` body: ``product.updated`` and one ``price.changed`` per SKU.

    Prices are absolute (the body carries no previous price); a consumer that already has the
    same amount ignores the event. A product none of whose variants has a SKU (a gift card, a
    service) has nothing for a SKU-keyed catalogue: it gives no event.

    Raises:
        DecodeError: a field cannot be read.
    """
    topic = "products/update"
    product_id = _int_id(payload, topic)
    if not any(_has_sku(v) for v in payload.get("variants") or []):
        return []
    try:
        product = product_from_shopify(payload)
        prices = prices_from_shopify_product(
            payload, currency=ctx.currency, price_list=ctx.price_list
        )
    except (MappingError, MoneyError, ValidationError, KeyError, TypeError) as exc:
        raise DecodeError(f"product {product_id}: {_reason(exc)}", topic=topic) from exc
    stamp = product.updated_at or ctx.triggered_at
    suffix = stamp.astimezone(UTC).isoformat() if stamp else "?"
    events = [
        _event(
            ctx,
            EventType.PRODUCT_UPDATED,
            state_key=f"product:{product_id}@{suffix}",
            subject=_gid(payload, "Product", product_id),
            time=stamp,
            data=product,
        )
    ]
    for price in prices:
        events.append(
            _event(
                ctx,
                EventType.PRICE_CHANGED,
                state_key=f"price:{price.price_list}:{price.sku}:{price.amount.amount_text()}"
                f"@{suffix}",
                subject=f"{price.price_list}:{price.sku}",
                time=stamp,
                data=price,
            )
        )
    return events


# --- helpers -------------------------------------------------------------------------------------


def _event(
    ctx: DecodeContext,
    event_type: EventType,
    *,
    state_key: str,
    subject: str,
    time: datetime | None,
    data: BaseModel | dict[str, Any],
) -> Event:
    body = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return Event(
        id=event_id_for(ctx.source, event_type.value, state_key),
        source=ctx.source,
        type=event_type.value,
        subject=subject,
        time=time or ctx.triggered_at or datetime.now(UTC),
        dataschema=dataschema_for(event_type.value),
        correlationid=ctx.correlation_id,
        data=body,
    )


def _has_sku(variant: Any) -> bool:
    return (
        isinstance(variant, Mapping)
        and isinstance(variant.get("sku"), str)
        and bool(variant["sku"].strip())
    )


def _int_id(payload: Payload, topic: str) -> int:
    value = payload.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"'id' must be an integer, got {value!r}", topic=topic)
    return value


def _gid(payload: Payload, kind: str, resource_id: int) -> str:
    value = payload.get("admin_graphql_api_id")
    return value if isinstance(value, str) and value else f"gid://shopify/{kind}/{resource_id}"


def _return_number(payload: Payload) -> str | None:
    shopify_return = payload.get("return")
    if isinstance(shopify_return, Mapping) and shopify_return.get("id") is not None:
        return f"shopify-return:{shopify_return['id']}"
    return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return str(exc)
        where = ".".join(str(p) for p in errors[0]["loc"])
        return f"invalid {where}: {errors[0]['msg']}"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc)
