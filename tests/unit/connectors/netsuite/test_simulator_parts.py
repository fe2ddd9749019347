"""The simulator's TBA verifier and SuiteQL subset, checked without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from crossdock.connectorkit.http import decode_json
from crossdock.connectors.netsuite import order_from_netsuite
from crossdock.sandbox.kit import EffectLedger
from crossdock.sandbox.netsuite import DEFAULT_DATA, Erp, NetSuiteError
from crossdock.sandbox.netsuite._json import dumps as ns_dumps
from crossdock.sandbox.netsuite._suiteql import parse, run
from crossdock.sandbox.netsuite._tba import base_string, base_string_uri, parse_authorization


def test_the_base_string_equals_oauthlibs() -> None:
    fields = {
        "realm": "1234567_SB1",
        "oauth_consumer_key": "ck",
        "oauth_token": "tk",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1764217539",
        "oauth_nonce": "abc def",
        "oauth_version": "1.0",
        "oauth_signature": "ignored",
    }
    query = [("q", "a b"), ("limit", "5"), ("q", "A")]
    uri = base_string_uri("HTTPS", "1234567-SB1.SuiteTalk.Api.NetSuite.com:443", "/services/rest/x")
    ours = base_string("post", uri, fields, query)
    params = [(k, v) for k, v in fields.items() if k not in {"realm", "oauth_signature"}] + query
    theirs = oauth_signature.signature_base_string(
        "POST",
        oauth_signature.base_string_uri(
            "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/x"
        ),
        oauth_signature.normalize_parameters(params),
    )
    assert ours == theirs


def test_authorization_headers_are_parsed_and_decoded() -> None:
    header = 'OAuth realm="123_SB1", oauth_nonce="a%2Bb", oauth_signature="x%3D"'
    assert parse_authorization(header) == {
        "realm": "123_SB1",
        "oauth_nonce": "a+b",
        "oauth_signature": "x=",
    }


def erp() -> Erp:
    moment = datetime(2026, 11, 27, 4, 10, 2, tzinfo=UTC)
    return Erp(dict(DEFAULT_DATA), EffectLedger(), now=lambda: moment)


def test_suiteql_subset_filters_orders_and_stringifies() -> None:
    rows = run(
        erp(),
        "select ITEM, location, quantityAvailable from InventoryItemLocations "
        "where location = '1' and lastmodifieddate >= "
        "TO_TIMESTAMP('2026-11-27 04:10:02', 'YYYY-MM-DD HH24:MI:SS') order by item desc",
    )
    assert rows == [
        {"item": "5502", "location": "1", "quantityavailable": "3"},
        {"item": "5501", "location": "1", "quantityavailable": "50"},
    ]
    assert run(erp(), "SELECT id FROM item WHERE id IN (5502, 9)") == [{"id": "5502"}]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM item",
        "SELECT id FROM item; DROP TABLE item",
        "SELECT id FROM item WHERE lastmodifieddate > '2026-01-01'",
        "SELECT id FROM item WHERE id = 1 OR id = 2",
        "SELECT COUNT(*) FROM item",
        "SELECT id FROM transaction WHERE lastmodifieddate > TO_TIMESTAMP('2026', 'YYYY')",
    ],
)
def test_statements_outside_the_subset_are_refused(statement: str) -> None:
    with pytest.raises(NetSuiteError) as caught:
        run(erp(), statement)
    assert caught.value.code == "INVALID_PARAMETER"
    assert caught.value.response.status_code == 400


def test_parse_reads_the_documented_change_query() -> None:
    query = parse(
        "SELECT id, lastmodifieddate FROM transaction WHERE lastmodifieddate > "
        "TO_TIMESTAMP('2026-11-27 04:00:00', 'YYYY-MM-DD HH24:MI:SS')"
    )
    assert query.table == "transaction"
    assert query.where[0].value == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


def _order_body(quantity: int, item: str = "SKU-BLUE-L", **extra: Any) -> dict[str, Any]:
    return {
        "entity": {"id": "900"},
        "location": {"id": "1"},
        "item": {"items": [{"item": {"externalId": item}, "quantity": quantity, "rate": "30.00"}]},
        **extra,
    }


def erp_with_customer() -> Erp:
    data = dict(DEFAULT_DATA)
    data["customers"] = [{"id": "900", "companyName": "Acme"}]
    return Erp(data, EffectLedger(), now=lambda: datetime(2026, 11, 27, 4, 0, tzinfo=UTC))


def test_backorders_are_committed_oldest_order_first_when_stock_arrives() -> None:
    books = erp_with_customer()
    first = books.create("salesOrder", _order_body(3))
    second = books.create("salesOrder", _order_body(2))
    lines = [books.get("salesOrder", i)["item"]["items"][0] for i in (first, second)]
    assert [(x["quantityCommitted"], x["quantityBackOrdered"]) for x in lines] == [(3, 0), (0, 2)]
    books.set_on_hand("5502", "1", 4)
    assert [(x["quantityCommitted"], x["quantityBackOrdered"]) for x in lines] == [(3, 0), (1, 1)]
    stock = books.stock_at("5502", "1")
    assert (stock.on_hand, stock.committed, stock.available) == (4, 4, 0)


def test_an_upsert_replaces_lines_and_recommits() -> None:
    books = erp_with_customer()
    record_id, created = books.upsert("salesOrder", "hub-1", _order_body(3))
    assert created
    again, created = books.upsert("salesOrder", "hub-1", _order_body(1))
    assert (again, created) == (record_id, False)
    assert books.stock_at("5502", "1").committed == 1
    books.transform("salesOrder", record_id, "itemFulfillment", {})
    with pytest.raises(NetSuiteError) as caught:
        books.upsert("salesOrder", "hub-1", _order_body(1, item="SKU-RED-M"))
    assert caught.value.code == "USER_ERROR"
    with pytest.raises(NetSuiteError):
        books.delete("salesOrder", record_id)
    effects = books.effects.get("salesOrder", "hub-1")
    assert effects is not None
    assert (effects.attempts, effects.created, effects.duplicates_absorbed) == (3, 1, 1)


def test_an_order_with_shipping_maps_to_the_canonical_order() -> None:
    books = erp_with_customer()
    record_id = books.create("salesOrder", _order_body(2, shippingCost="4.95"))
    record = decode_json(ns_dumps(books.snapshot("salesOrder", record_id)))
    line = record["item"]["items"][0]
    assert (line["rate"], line["amount"]) == (Decimal("30.00"), Decimal("60.00"))
    assert b'"total":64.95' in ns_dumps(books.snapshot("salesOrder", record_id))
    order = order_from_netsuite(record)
    assert order.totals.total.amount == Decimal("64.95")
    assert order.status == "open"


def test_bad_references_and_quantities_name_their_path() -> None:
    books = erp_with_customer()
    cases = [
        (_order_body(0), "item.items[0].quantity"),
        (_order_body(1, item="NOPE"), "item.items[0].item"),
        ({**_order_body(1), "entity": {"id": "1"}}, "entity"),
    ]
    for body, path in cases:
        with pytest.raises(NetSuiteError) as caught:
            books.create("salesOrder", body)
        assert caught.value.code == "INVALID_VALUE"
        details = decode_json(bytes(caught.value.response.body))["o:errorDetails"][0]
        assert details["o:errorPath"] == path
