"""The simulator's posted invoices and sales credit memos, seen by a plain HTTP client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import Client, admin

ORDER = {
    "customerNumber": "C00010",
    "externalDocumentNumber": "WEB-9",
    "salesOrderLines": [
        {"lineType": "Item", "lineObjectNumber": "1936-S", "quantity": 3},
        {"lineType": "Item", "lineObjectNumber": "1920-S", "quantity": 1},
    ],
}


def _memo(**extra: Any) -> dict[str, Any]:
    return {
        "customerNumber": "C00010",
        "externalDocumentNumber": "RET-1",
        "salesCreditMemoLines": [
            {"lineType": "Item", "lineObjectNumber": "1936-S", "quantity": 2, "unitPrice": 190},
            {"lineType": "Comment", "description": "damaged in transit"},
        ],
        **extra,
    }


async def _shipped_order(client: Client) -> dict[str, Any]:
    """The order, its chair line shipped (and invoiced) in part: 1 of 3."""
    _, order, _ = await client.send("POST", "salesOrders", ORDER)
    path = f"salesOrders({order['id']})"
    for line, ship in zip(order["salesOrderLines"], (1, 0), strict=True):
        status, _, _ = await client.send(
            "PATCH",
            f"{path}/salesOrderLines({line['id']})",
            {"shipQuantity": ship, "invoiceQuantity": ship},
            **{"If-Match": line["@odata.etag"]},
        )
        assert status == 200
    status, _, _ = await client.send("POST", f"{path}/Microsoft.NAV.shipAndInvoice")
    assert status == 204
    _, fresh, _ = await client.send("GET", f"{path}?$expand=salesOrderLines")
    return dict(fresh)


async def test_ship_and_invoice_posts_an_invoice_found_by_order_and_reference(
    client: Client,
) -> None:
    order = await _shipped_order(client)

    for where in (
        f"orderNumber eq '{order['number']}'",
        f"orderId eq '{order['id']}'",
        "externalDocumentNumber eq 'WEB-9'",
    ):
        status, found, _ = await client.send(
            "GET", f"salesInvoices?$filter={where}&$expand=salesInvoiceLines"
        )
        assert status == 200
        (invoice,) = found["value"]
        assert (invoice["orderId"], invoice["orderNumber"]) == (order["id"], order["number"])
        assert (invoice["status"], invoice["externalDocumentNumber"]) == ("Open", "WEB-9")
        assert invoice["totalAmountIncludingTax"] == Decimal("192.8")
        [line] = invoice["salesInvoiceLines"]
        assert (line["lineObjectNumber"], line["quantity"]) == ("1936-S", 1)
    status, one, headers = await client.send("GET", f"salesInvoices({invoice['id']})")
    assert (status, one["number"], headers["ETag"]) == (200, invoice["number"], one["@odata.etag"])
    status, body, _ = await client.send(
        "PATCH", f"salesInvoices({invoice['id']})", {"email": "x@y.example"}, **{"If-Match": "*"}
    )
    assert status == 405
    assert body["error"]["code"] == "BadRequest_MethodNotAllowed"


async def test_a_line_quantity_lowered_to_what_shipped_leaves_nothing_to_post(
    client: Client,
) -> None:
    order = await _shipped_order(client)
    path = f"salesOrders({order['id']})"
    chair, table = order["salesOrderLines"]

    status, body, _ = await client.send(
        "PATCH",
        f"{path}/salesOrderLines({chair['id']})",
        {"quantity": 0},
        **{"If-Match": chair["@odata.etag"]},
    )
    assert status == 400
    assert body["error"]["code"] == "Application_DialogException"
    for line in (chair, table):
        status, fresh, _ = await client.send(
            "PATCH",
            f"{path}/salesOrderLines({line['id']})",
            {"quantity": line["shippedQuantity"]},
            **{"If-Match": line["@odata.etag"]},
        )
        assert status == 200
        assert (fresh["shipQuantity"], fresh["invoiceQuantity"]) == (0, 0)
    _, closed, _ = await client.send("GET", path)
    assert closed["fullyShipped"] is True
    status, body, _ = await client.send("POST", f"{path}/Microsoft.NAV.shipAndInvoice")
    assert (status, body["error"]["code"]) == (400, "Application_DialogException")


async def test_a_credit_memo_is_a_draft_with_its_lines_until_posted(
    client: Client, sim: BusinessCentralSimulator
) -> None:
    stock = sim.company.item_by_number("1936-S").data["inventory"]

    status, memo, headers = await client.send("POST", "salesCreditMemos", _memo())

    assert status == 201
    assert headers["ETag"] == memo["@odata.etag"]
    assert (memo["status"], memo["number"][:4]) == ("Draft", "S-CR")
    assert memo["totalAmountIncludingTax"] == Decimal("380")
    lines = [(x["lineType"], x["quantity"]) for x in memo["salesCreditMemoLines"]]
    assert lines == [("Item", 2), ("Comment", 0)]
    status, found, _ = await client.send(
        "GET",
        "salesCreditMemos?$filter=externalDocumentNumber eq 'RET-1'&$expand=salesCreditMemoLines",
    )
    assert status == 200
    assert [m["id"] for m in found["value"]] == [memo["id"]]
    assert sim.company.item_by_number("1936-S").data["inventory"] == stock


async def test_a_draft_credit_memo_is_changed_under_its_etag_and_deleted(
    client: Client, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    _, memo, _ = await client.send("POST", "salesCreditMemos", _memo())
    path = f"salesCreditMemos({memo['id']})"

    status, body, _ = await client.send("PATCH", path, {"externalDocumentNumber": "RET-2"})
    assert (status, body["error"]["code"]) == (400, "BadRequest_RequiredParamNotProvided")
    status, fresh, _ = await client.send(
        "PATCH", path, {"externalDocumentNumber": "RET-2"}, **{"If-Match": memo["@odata.etag"]}
    )
    assert (status, fresh["externalDocumentNumber"]) == (200, "RET-2")
    await admin(raw, server, "businesscentral/settings", {"conflict_status": 412})
    status, body, _ = await client.send(
        "PATCH", path, {"email": "a@b.example"}, **{"If-Match": memo["@odata.etag"]}
    )
    assert (status, body["error"]["code"]) == (412, "Request_EntityChanged")
    status, body, _ = await client.send(
        "PATCH", path, {"status": "Open"}, **{"If-Match": fresh["@odata.etag"]}
    )
    assert (status, body["error"]["code"]) == (400, "BadRequest")

    line = memo["salesCreditMemoLines"][0]
    status, changed, _ = await client.send(
        "PATCH",
        f"{path}/salesCreditMemoLines({line['id']})",
        {"quantity": 1},
        **{"If-Match": line["@odata.etag"]},
    )
    assert (status, changed["amountExcludingTax"]) == (200, Decimal("190"))
    _, after, _ = await client.send("GET", path)
    assert after["totalAmountIncludingTax"] == Decimal("190")

    status, _, _ = await client.send("DELETE", path, **{"If-Match": fresh["@odata.etag"]})
    assert status == 412  # the line change moved the credit memo on
    status, _, _ = await client.send("DELETE", path, **{"If-Match": after["@odata.etag"]})
    assert status == 204
    status, body, _ = await client.send("GET", path)
    assert (status, body["error"]["code"]) == (404, "Internal_RecordNotFound")


async def test_posting_puts_the_units_back_once_and_freezes_the_credit_memo(
    client: Client, sim: BusinessCentralSimulator
) -> None:
    _, memo, _ = await client.send("POST", "salesCreditMemos", _memo())
    path = f"salesCreditMemos({memo['id']})"
    stock = sim.company.item_by_number("1936-S").data["inventory"]

    status, _, _ = await client.send("POST", f"{path}/Microsoft.NAV.post")
    assert status == 204
    _, posted, _ = await client.send("GET", path)
    assert (posted["status"], posted["number"][:5]) == ("Open", "PS-CR")
    assert sim.company.item_by_number("1936-S").data["inventory"] == stock + 2

    status, body, _ = await client.send("POST", f"{path}/Microsoft.NAV.post")
    assert status == 400
    assert body["error"]["code"] == "Application_DialogException"
    assert "already posted" in body["error"]["message"]
    assert sim.company.item_by_number("1936-S").data["inventory"] == stock + 2
    etag = {"If-Match": posted["@odata.etag"]}
    status, body, _ = await client.send("PATCH", path, {"email": "a@b.example"}, **etag)
    assert (status, body["error"]["code"]) == (400, "Application_DialogException")
    status, body, _ = await client.send("DELETE", path, **etag)
    assert (status, body["error"]["code"]) == (400, "Application_DialogException")
    status, body, _ = await client.send("POST", f"{path}/Microsoft.NAV.teleport")
    assert (status, body["error"]["code"]) == (404, "BadRequest_NotFound")


async def test_a_credit_memo_applied_to_an_invoice_takes_its_customer(
    client: Client,
) -> None:
    await _shipped_order(client)
    _, found, _ = await client.send("GET", "salesInvoices")
    (invoice,) = found["value"]
    body = {**_memo(), "invoiceNumber": invoice["number"]}
    del body["customerNumber"]

    status, memo, _ = await client.send("POST", "salesCreditMemos", body)

    assert status == 201
    assert (memo["invoiceId"], memo["customerNumber"]) == (invoice["id"], "C00010")
    status, error, _ = await client.send(
        "POST", "salesCreditMemos", {**_memo(), "invoiceNumber": "S-INV999"}
    )
    assert (status, error["error"]["code"]) == (404, "Internal_RecordNotFound")
    status, error, _ = await client.send(
        "POST", "salesCreditMemos", {**_memo(), "externalDocumentNumber": "R" * 36}
    )
    assert (status, error["error"]["code"]) == (400, "BadRequest")


async def test_the_effects_list_invoices_and_credit_memos(
    client: Client, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    await _shipped_order(client)
    _, memo, _ = await client.send("POST", "salesCreditMemos", _memo())
    await client.send("POST", f"salesCreditMemos({memo['id']})/Microsoft.NAV.post")
    await client.send("POST", f"salesCreditMemos({memo['id']})/Microsoft.NAV.post")

    async with raw.get(f"{server.base_url}/_sandbox/effects") as response:
        effects = (await response.json())["effects"]

    _, found, _ = await client.send("GET", "salesInvoices")
    (invoice,) = found["value"]
    assert effects["salesInvoice"]["WEB-9"]["created"] == 1
    assert effects["salesInvoice"]["WEB-9"]["last_state"] == invoice["number"]
    assert effects["salesCreditMemo"]["RET-1"]["created"] == 1
    assert effects["salesCreditMemo"]["RET-1"]["last_state"] == "Open"
    post = effects["postCreditMemo"]["RET-1"]
    assert (post["attempts"], post["created"], post["duplicates_refused"]) == (2, 1, 1)
