"""The simulator's wire behaviour seen by a plain HTTP client: OData, ETags, errors, registry."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer, create, system_names

from .conftest import Client, admin

ORDER = {
    "customerNumber": "C00010",
    "externalDocumentNumber": "WEB-1",
    "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1936-S", "quantity": 3}],
}


def test_the_simulator_registers_itself() -> None:
    assert "businesscentral" in system_names()
    assert isinstance(create("businesscentral"), BusinessCentralSimulator)


async def test_deep_insert_answers_201_with_the_entity_and_its_etag(client: Client) -> None:
    status, order, headers = await client.send("POST", "salesOrders", ORDER)

    assert status == 201
    assert order["@odata.etag"].startswith('W/"')
    assert headers["ETag"] == order["@odata.etag"]
    assert order["number"].startswith("S-ORD")
    assert order["status"] == "Open"
    [line] = order["salesOrderLines"]
    assert (line["quantity"], line["unitPrice"], line["amountIncludingTax"]) == (
        3,
        Decimal("192.8"),
        Decimal("578.4"),
    )
    status, lines, _ = await client.send("GET", f"salesOrders({order['id']})/salesOrderLines")
    assert status == 200
    assert [x["id"] for x in lines["value"]] == [line["id"]]


async def test_writes_need_if_match_and_a_current_etag(
    client: Client, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    _, order, _ = await client.send("POST", "salesOrders", ORDER)
    path = f"salesOrders({order['id']})"

    status, body, _ = await client.send("PATCH", path, {"email": "a@b.example"})
    assert status == 400
    assert body["error"]["code"] == "BadRequest_RequiredParamNotProvided"

    status, fresh, _ = await client.send(
        "PATCH", path, {"email": "a@b.example"}, **{"If-Match": order["@odata.etag"]}
    )
    assert status == 200
    assert fresh["@odata.etag"] != order["@odata.etag"]

    for conflict_status in (409, 412):
        await admin(raw, server, "businesscentral/settings", {"conflict_status": conflict_status})
        status, body, _ = await client.send(
            "PATCH", path, {"email": "c@d.example"}, **{"If-Match": order["@odata.etag"]}
        )
        assert status == conflict_status
        assert body["error"]["code"] == "Request_EntityChanged"
        assert body["error"]["message"].startswith("Another user has already changed the record.")

    status, _, _ = await client.send("PATCH", path, {"email": "e@f.example"}, **{"If-Match": "*"})
    assert status == 200
    status, _, _ = await client.send("DELETE", path, **{"If-Match": "*"})
    assert status == 204
    status, body, _ = await client.send("GET", path)
    assert status == 404
    assert body["error"]["code"] == "Internal_RecordNotFound"


async def test_read_only_fields_and_entities_are_refused(client: Client) -> None:
    _, order, _ = await client.send("POST", "salesOrders", ORDER)
    status, body, _ = await client.send(
        "PATCH", f"salesOrders({order['id']})", {"number": "X"}, **{"If-Match": "*"}
    )
    assert status == 400
    assert body["error"]["code"] == "BadRequest"

    status, body, _ = await client.send("POST", "salesShipments", {})
    assert status == 405

    status, body, _ = await client.send("GET", "salesOrderz")
    assert status == 404
    assert body["error"]["code"] == "BadRequest_NotFound"


async def test_paging_filter_select_top_skip_and_orderby(
    client: Client, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    await admin(raw, server, "businesscentral/settings", {"page_size": 2})
    for index in range(5):
        await client.send("POST", "salesOrders", {**ORDER, "externalDocumentNumber": f"W-{index}"})

    seen: list[str] = []
    status, body, _ = await client.send(
        "GET", "salesOrders?$select=externalDocumentNumber&$orderby=number desc"
    )
    pages = 1
    while True:
        assert status == 200
        seen += [row["externalDocumentNumber"] for row in body["value"]]
        assert all(set(row) == {"@odata.etag", "externalDocumentNumber"} for row in body["value"])
        if "@odata.nextLink" not in body:
            break
        status, body, _ = await client.send("GET", body["@odata.nextLink"])
        pages += 1
    assert seen == ["W-4", "W-3", "W-2", "W-1", "W-0"]
    assert pages == 3

    _, body, _ = await client.send("GET", "salesOrders?$top=2&$skip=1&$orderby=number")
    assert [row["externalDocumentNumber"] for row in body["value"]] == ["W-1", "W-2"]

    _, body, _ = await client.send("GET", "salesOrders?$filter=externalDocumentNumber eq 'W-3'")
    assert [row["externalDocumentNumber"] for row in body["value"]] == ["W-3"]

    await admin(raw, server, "businesscentral/settings", {"page_size": 20_000})
    _, all_orders, _ = await client.send("GET", "salesOrders?$orderby=lastModifiedDateTime")
    middle = all_orders["value"][2]["lastModifiedDateTime"]
    _, body, _ = await client.send(
        "GET", f"salesOrders?$filter=lastModifiedDateTime gt {middle}&$orderby=number"
    )
    assert [row["externalDocumentNumber"] for row in body["value"]] == ["W-3", "W-4"]


@pytest.mark.parametrize(
    "query",
    [
        "$filter=displayName eq 'x'",
        "$filter=lastModifiedDateTime gt yesterday",
        "$filter=number ne 'x'",
        "$apply=groupby((number))",
        "$skiptoken=forged",
        "$orderby=number,displayName",
    ],
)
async def test_queries_outside_the_subset_are_bad_requests(client: Client, query: str) -> None:
    status, body, _ = await client.send("GET", f"items?{query}")

    assert status == 400
    expected = "BadRequest_InvalidToken" if "skiptoken" in query else "BadRequest"
    assert body["error"]["code"] == expected


async def test_ship_and_invoice_posts_a_shipment_and_refuses_a_second_time(
    client: Client, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    await admin(raw, server, "businesscentral/settings", {"delete_fully_invoiced": False})
    _, order, _ = await client.send("POST", "salesOrders", ORDER)
    action = f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"

    status, body, _ = await client.send("POST", action)
    assert status == 204
    assert body is None

    status, body, _ = await client.send("POST", action)
    assert status == 400
    assert body["error"]["code"] == "Application_DialogException"

    _, shipments, _ = await client.send("GET", "salesShipments?$expand=salesShipmentLines")
    [shipment] = shipments["value"]
    assert shipment["externalDocumentNumber"] == "WEB-1"
    assert [x["quantity"] for x in shipment["salesShipmentLines"]] == [3]
    _, items, _ = await client.send("GET", "items?$filter=number eq '1936-S'")
    assert items["value"][0]["inventory"] == 97
    _, invoices, _ = await client.send("GET", "salesInvoices")
    assert invoices["value"][0]["totalAmountIncludingTax"] == Decimal("578.4")


async def test_an_external_document_number_longer_than_35_is_refused(client: Client) -> None:
    status, body, _ = await client.send(
        "POST", "salesOrders", {**ORDER, "externalDocumentNumber": "x" * 36}
    )

    assert status == 400
    assert "35 characters" in body["error"]["message"]


async def test_a_completely_shipped_and_invoiced_order_is_deleted(client: Client) -> None:
    _, order, _ = await client.send("POST", "salesOrders", ORDER)

    status, _, _ = await client.send(
        "POST", f"salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"
    )

    assert status == 204
    status, body, _ = await client.send("GET", f"salesOrders({order['id']})")
    assert status == 404
    assert body["error"]["code"] == "Internal_RecordNotFound"
    _, shipments, _ = await client.send(
        "GET", "salesShipments?$filter=externalDocumentNumber eq 'WEB-1'"
    )
    assert [s["orderNumber"] for s in shipments["value"]] == [order["number"]]
