"""Every topic decoded into canonical events, from payloads of the real wire shape."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from crossdock.backbone.store import Delivery
from crossdock.canonical.envelope import schema_urn
from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order
from crossdock.canonical.price import Price
from crossdock.canonical.product import Product
from crossdock.canonical.returns import Return
from crossdock.connectorkit.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    InProcessTransport,
    encode_json,
    make_headers,
)
from crossdock.connectors.shopify import (
    DecodeContext,
    DecodeError,
    OrderQuarantined,
    ShopifyConnector,
    ShopifySettings,
    StaleGuard,
    decode_inventory_level,
    decode_order,
    decode_product,
    decode_refund,
    order_state_key,
    parse_body,
)
from crossdock.runtime.clock import ManualClock

from .conftest import load, raw

CTX = DecodeContext(
    source="shopify:acme.myshopify.com",
    correlation_id="corr-1",
    currency="USD",
    price_list="retail-usd",
    triggered_at=datetime(2026, 11, 27, 14, 31, 45, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("topic", "event_type"),
    [
        ("orders/create", "order.placed"),
        ("orders/updated", "order.updated"),
        ("orders/cancelled", "order.cancelled"),
    ],
)
def test_order_topics_become_their_events(topic: str, event_type: str) -> None:
    payload = load("orders_create_1043_usd_taxes_added.json")
    event = decode_order(topic, payload, CTX)
    assert event.type == event_type
    assert event.dataschema == schema_urn("order.v1")
    assert event.subject == "gid://shopify/Order/5812345699001"
    assert event.source == "shopify:acme.myshopify.com"
    assert event.correlationid == "corr-1"
    assert event.time == datetime(2026, 11, 27, 14, 31, 44, tzinfo=UTC)  # the order's updated_at
    order = Order.model_validate(event.data)
    assert order.number == "#1043"
    assert order.totals.total == Money(payload["total_price"], "USD")


def test_the_order_data_keeps_money_as_strings_and_non_ascii() -> None:
    payload = load("orders_create_1043_usd_taxes_added.json")
    event = decode_order("orders/create", payload, CTX)
    text = json.dumps(event.data, ensure_ascii=False)
    assert "José Núñez" in text
    assert event.data["totals"]["total"] == {"amount": payload["total_price"], "currency": "USD"}


def test_a_cancelled_jpy_order() -> None:
    payload = load("orders_cancelled_1044_jpy.json")
    event = decode_order("orders/cancelled", payload, CTX)
    order = Order.model_validate(event.data)
    assert order.status == "cancelled"
    assert order.currency == "JPY"
    assert order.cancellation is not None


def test_the_same_order_state_gives_the_same_event_id() -> None:
    payload = load("orders_create_1042_eur_taxes_included.json")
    first = decode_order("orders/updated", payload, CTX)
    again = decode_order("orders/updated", copy.deepcopy(payload), CTX)
    other_type = decode_order("orders/cancelled", payload, CTX)
    later = copy.deepcopy(payload) | {"updated_at": "2026-12-01T00:00:00+00:00"}
    assert first.id == again.id
    assert first.id != other_type.id
    assert first.id != decode_order("orders/updated", later, CTX).id


def test_two_states_in_the_same_second_stay_two_events() -> None:
    # Shopify's updated_at has one-second resolution: a customer edit landing in the same
    # second as the echo of a hub write must not be taken for a duplicate of it.
    payload = load("orders_create_1042_eur_taxes_included.json")
    tagged = copy.deepcopy(payload) | {"tags": "backordered"}
    first = decode_order("orders/updated", payload, CTX)
    assert decode_order("orders/updated", tagged, CTX).id != first.id
    assert decode_order("orders/updated", copy.deepcopy(payload), CTX).id == first.id


def test_two_stock_levels_in_the_same_second_stay_two_events() -> None:
    payload = load("inventory_levels_update_oversold.json")
    [first] = decode_inventory_level(payload, CTX, sku="SOCK-M", location="WH-NYC")
    moved = copy.deepcopy(payload) | {"available": int(payload["available"]) + 5}
    [other] = decode_inventory_level(moved, CTX, sku="SOCK-M", location="WH-NYC")
    assert other.id != first.id
    [again] = decode_inventory_level(copy.deepcopy(payload), CTX, sku="SOCK-M", location="WH-NYC")
    assert again.id == first.id


def test_the_order_state_key_is_in_utc() -> None:
    payload = {"id": 5812345699001, "updated_at": "2026-11-27T06:31:44-08:00"}
    assert order_state_key(payload) == "order:5812345699001@2026-11-27T14:31:44+00:00"


def test_an_order_whose_totals_do_not_add_up_is_quarantined_with_the_difference() -> None:
    payload = load("orders_create_1042_eur_taxes_included.json")
    payload["total_price"] = str(Decimal(payload["total_price"]) + Decimal("0.01"))
    with pytest.raises(OrderQuarantined) as caught:
        decode_order("orders/create", payload, CTX)
    assert caught.value.difference == Money("0.01", "EUR")
    assert caught.value.order_id == payload["id"]
    assert caught.value.order_name == "#1042"
    assert not isinstance(caught.value, DecodeError)


def test_an_unreadable_order_is_a_decode_error() -> None:
    payload = load("orders_create_1042_eur_taxes_included.json")
    payload["line_items"][0]["quantity"] = Decimal("1.5")
    with pytest.raises(DecodeError) as caught:
        decode_order("orders/create", payload, CTX)
    assert caught.value.reason.startswith(f"order {payload['id']}: ")
    assert caught.value.topic == "orders/create"


def test_a_float_id_is_refused() -> None:
    payload = load("orders_create_1042_eur_taxes_included.json")
    payload["id"] = Decimal("5812345678901.0")
    with pytest.raises(DecodeError, match="integer"):
        decode_order("orders/create", payload, CTX)


def test_a_refund_with_returned_units_gives_order_refunded_and_return_refunded() -> None:
    refund = load("refunds_create_1043.json")
    order = load("orders_create_1043_usd_taxes_added.json")
    assert isinstance(refund["refund_line_items"][0]["subtotal"], Decimal)  # a JSON number
    events = decode_refund(refund, order, CTX)
    assert [e.type for e in events] == ["order.refunded", "return.refunded"]
    refunded, returned = events
    assert refunded.subject == "gid://shopify/Order/5812345699001"
    assert Order.model_validate(refunded.data).number == "#1043"
    ret = Return.model_validate(returned.data)
    assert ret.order.number == "#1043"
    assert ret.status == "refunded"
    assert ret.refund is not None
    assert ret.refund.subtotal == Money("12.33", "USD")
    assert ret.refund.tax == Money("1.17", "USD")
    assert ret.refund.total == Money("13.50", "USD")
    assert ret.lines[0].line_id == "13456789099002"
    assert returned.subject == "gid://shopify/Refund/929361467"
    assert returned.dataschema == schema_urn("return.v1")
    assert decode_refund(refund, order, CTX)[1].id == returned.id


def test_a_refund_without_returned_units_gives_only_order_refunded() -> None:
    refund = load("refunds_create_1043.json")
    for line in refund["refund_line_items"]:
        line["restock_type"] = "no_restock"
    events = decode_refund(refund, load("orders_create_1043_usd_taxes_added.json"), CTX)
    assert [e.type for e in events] == ["order.refunded"]


def test_an_oversold_level_keeps_its_negative_number() -> None:
    payload = load("inventory_levels_update_oversold.json")
    [event] = decode_inventory_level(payload, CTX, sku="SOCK-M", location="WH-NYC")
    level = InventoryLevel.model_validate(event.data)
    assert level.available == -3
    assert level.sku == "SOCK-M"
    assert level.location == "WH-NYC"
    assert event.subject == "SOCK-M@WH-NYC"
    assert event.type == "inventory.changed"
    assert event.time == datetime(2026, 11, 27, 14, 41, 7, tzinfo=UTC)


def test_a_null_available_gives_no_event() -> None:
    payload = load("inventory_levels_update_untracked.json")
    assert decode_inventory_level(payload, CTX, sku="SOCK-L", location="WH-NYC") == []


def test_a_fractional_available_is_a_decode_error() -> None:
    payload = load("inventory_levels_update_oversold.json") | {"available": Decimal("2.5")}
    with pytest.raises(DecodeError, match="integer"):
        decode_inventory_level(payload, CTX, sku="SOCK-M", location="WH-NYC")


def test_products_update_gives_the_product_and_its_prices() -> None:
    payload = load("products_update_8123456799002.json")
    events = decode_product(payload, CTX)
    assert [e.type for e in events] == ["product.updated", "price.changed", "price.changed"]
    product = Product.model_validate(events[0].data)
    assert product.title == "Merino Socks — Zürich"
    assert [v.sku for v in product.variants] == ["SOCK-M", "SOCK-L"]  # the SKU-less one is left out
    assert product.variants[0].gtin == "4006381333931"
    assert product.variants[1].gtin is None  # "not-a-gtin" is not a barcode we keep
    assert product.tags == ["merino", "socks", "winter"]
    assert product.options[0].name == "Größe"
    assert events[0].subject == "gid://shopify/Product/8123456799002"
    prices = [Price.model_validate(e.data) for e in events[1:]]
    assert prices[0].amount == Money("14.50", "USD")
    assert prices[0].compare_at_amount == Money("17.90", "USD")
    assert prices[1].amount == Money("14.99", "USD")
    assert prices[1].compare_at_amount is None
    assert events[1].subject == "retail-usd:SOCK-M"


def test_a_product_without_any_sku_gives_no_event() -> None:
    payload = load("products_update_8123456799002.json")
    for variant in payload["variants"]:
        variant["sku"] = ""
    assert decode_product(payload, CTX) == []


def test_an_unreadable_price_is_a_decode_error() -> None:
    payload = load("products_update_8123456799002.json")
    payload["variants"][0]["price"] = "14,50"
    with pytest.raises(DecodeError, match="product 8123456799002"):
        decode_product(payload, CTX)


def test_the_stale_guard_flags_an_older_update() -> None:
    payload = load("orders_create_1043_usd_taxes_added.json")
    newer = copy.deepcopy(payload) | {"updated_at": "2026-11-27T07:00:00-08:00"}
    guard = StaleGuard()
    assert guard.observe(decode_order("orders/updated", newer, CTX)) is False
    assert guard.observe(decode_order("orders/updated", payload, CTX)) is True
    assert guard.observe(decode_order("orders/updated", newer, CTX)) is False


# --- through the connector --------------------------------------------------------------------


class Shop:
    """A handler answering the few reads decoding needs, in Shopify's shapes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.calls.append(f"{request.method} {request.url}")
        if request.url.endswith("/orders/5812345699001.json"):
            body: Any = {"order": load("orders_create_1043_usd_taxes_added.json")}
        elif request.url.endswith("/graphql.json"):
            body = {"data": {"inventoryItem": {"id": "gid://x", "sku": "SOCK-M"}}}
        else:
            return HttpResponse(404, make_headers(), b'{"errors":"Not Found"}')
        return HttpResponse(
            200, make_headers({"Content-Type": "application/json"}), encode_json(body)
        )


@pytest.fixture
async def shop() -> Shop:
    return Shop()


@pytest.fixture
async def connector(shop: Shop) -> AsyncIterator[ShopifyConnector]:
    http = HttpClient(InProcessTransport.from_handler(shop))
    settings = ShopifySettings(
        shop_domain="acme.myshopify.com",
        currency="USD",
        webhook_secrets=("s",),
        location_codes={98765432101: "WH-NYC"},
    )
    yield ShopifyConnector(
        settings,
        http=http,
        access_token="shpat_x",
        base_url="http://acme.test",
        clock=ManualClock(datetime(2026, 11, 27, tzinfo=UTC)),
    )
    await http.aclose()


def delivery(topic: str | None, body: bytes) -> Delivery:
    headers = {"X-Shopify-Event-Id": "e1", "X-Shopify-Triggered-At": "2026-11-27T14:31:45Z"}
    if topic is not None:
        headers["x-shopify-topic"] = topic
    return Delivery("shopify:acme.myshopify.com", "k", body, headers, "corr-9")


async def test_connector_decodes_an_order_delivery(connector: ShopifyConnector) -> None:
    [event] = await connector.decode(
        delivery("orders/create", raw("orders_create_1042_eur_taxes_included.json"))
    )
    assert event.type == "order.placed"
    assert event.correlationid == "corr-9"


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("orders/create", b'{"id": 1, "total_price": ', "malformed JSON"),
        ("orders/create", b"\xff\xfe", "malformed JSON"),
        ("orders/create", b"[1, 2]", "not an object"),
        ("carts/update", b"{}", "unknown topic 'carts/update'"),
        (None, b"{}", "missing X-Shopify-Topic"),
    ],
)
async def test_bad_input_is_a_decode_error_with_its_reason(
    connector: ShopifyConnector, topic: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        await connector.decode(delivery(topic, body))
    assert reason in caught.value.reason


async def test_connector_reads_the_order_behind_a_refund(
    connector: ShopifyConnector, shop: Shop
) -> None:
    events = await connector.decode(delivery("refunds/create", raw("refunds_create_1043.json")))
    assert [e.type for e in events] == ["order.refunded", "return.refunded"]
    assert shop.calls == ["GET http://acme.test/admin/api/2026-01/orders/5812345699001.json"]


async def test_connector_learns_skus_from_products_then_decodes_levels_without_a_call(
    connector: ShopifyConnector, shop: Shop
) -> None:
    await connector.decode(delivery("products/update", raw("products_update_8123456799002.json")))
    [event] = await connector.decode(
        delivery("inventory_levels/update", raw("inventory_levels_update_oversold.json"))
    )
    assert event.subject == "SOCK-M@WH-NYC"
    assert shop.calls == []


async def test_connector_looks_an_unknown_item_up(connector: ShopifyConnector, shop: Shop) -> None:
    [event] = await connector.decode(
        delivery("inventory_levels/update", raw("inventory_levels_update_oversold.json"))
    )
    assert event.data["sku"] == "SOCK-M"
    assert len(shop.calls) == 1
    assert shop.calls[0].endswith("/admin/api/2026-01/graphql.json")
    assert (
        await connector.decode(
            delivery("inventory_levels/update", raw("inventory_levels_update_untracked.json"))
        )
        == []
    )


async def test_to_delivery_verifies_and_keys_the_inbox_row(connector: ShopifyConnector) -> None:
    import base64
    import hashlib
    import hmac

    from crossdock.connectors.shopify import InvalidSignatureError

    body = raw("orders_create_1042_eur_taxes_included.json")
    signature = base64.b64encode(hmac.new(b"s", body, hashlib.sha256).digest()).decode()
    headers = {
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": signature,
        "x-shopify-event-id": "e-1",
        "user-agent": "Shopify-Captain-Hook",
    }
    stored = connector.to_delivery(headers, body, correlation_id="corr-2")
    assert stored.dedupe_key == "event:orders/create:e-1"
    assert stored.body == body
    assert stored.correlation_id == "corr-2"
    assert "user-agent" not in stored.headers
    no_ids = {k: v for k, v in headers.items() if k != "x-shopify-event-id"}
    assert connector.to_delivery(no_ids, body).dedupe_key.startswith("body:")
    with pytest.raises(InvalidSignatureError):
        connector.to_delivery(headers | {"x-shopify-hmac-sha256": "AAAA"}, body)


def test_ids_beyond_float_precision_survive_exactly() -> None:
    big = 2**53 + 1  # a float would turn it into 9007199254740992
    text = raw("orders_create_1043_usd_taxes_added.json").replace(
        b'"id": 5812345699001', f'"id": {big}'.encode(), 1
    )
    payload = parse_body(text)
    assert payload["id"] == big
    payload["admin_graphql_api_id"] = None
    event = decode_order("orders/create", payload, CTX)
    assert event.subject == f"gid://shopify/Order/{big}"
