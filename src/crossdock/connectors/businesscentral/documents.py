"""Pure parts of invoicing, returns and closing in Business Central: what to read, what to post.

- Invoices: ``shipAndInvoice`` posts a sales invoice with each shipment, so invoicing an order
  is finding its posted ``salesInvoices`` (`invoice_result`) once no line is shipped and not
  invoiced (`uninvoiced`).
- Returns: a return is one sales credit memo, a draft while authorized and posted when
  credited. `credit_memo_body` builds it from the canonical return (items by SKU, the
  order's prices), its ``externalDocumentNumber`` the return's id (`external_document_number`).
- Closing: the unshipped remainder of a partly shipped order is cancelled by lowering each
  line's quantity to what it shipped (`close_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossdock.canonical.returns import Return
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.businesscentral.bodies import external_document_number

__all__ = [
    "SkuLine",
    "close_plan",
    "credit_memo_body",
    "credit_memo_result",
    "crediting_invoice",
    "invoice_result",
    "returned_quantities",
    "sku_lines",
    "uninvoiced",
]

JSONObject = dict[str, Any]


def _decimal(line: Mapping[str, Any], key: str) -> Decimal:
    return Decimal(str(line.get(key) or 0))


def _sold(lines: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """The lines that sell something (not comments)."""
    return [line for line in lines or [] if line.get("lineType") != "Comment"]


def uninvoiced(order: Mapping[str, Any]) -> list[str]:
    """``<number> x<quantity>`` of each line of a sales order shipped and not invoiced."""
    out = []
    for line in _sold(order.get("salesOrderLines")):
        left = _decimal(line, "shippedQuantity") - _decimal(line, "invoicedQuantity")
        if left > 0:
            out.append(f"{line.get('lineObjectNumber')} x{left}")
    return out


def invoice_result(
    invoices: Sequence[Mapping[str, Any]], *, order_id: str, invoice_id: str | None
) -> JSONObject:
    """The ``invoice.create`` result: the order's posted invoices, first by number first.

    ``id`` and ``number`` are those of the first invoice; ``invoices`` lists them all (one per
    ``shipAndInvoice`` that invoiced something) and ``total`` is their sum.
    """
    ordered = sorted(invoices, key=lambda i: str(i.get("number")))
    first = ordered[0]
    total = sum((_decimal(i, "totalAmountIncludingTax") for i in ordered), Decimal(0))
    return {
        "id": first.get("id"),
        "number": first.get("number"),
        "invoice_id": invoice_id,
        "external_document_number": external_document_number(order_id),
        "order_number": first.get("orderNumber"),
        "status": first.get("status"),
        "total": str(total),
        "invoices": [
            {
                "id": i.get("id"),
                "number": i.get("number"),
                "invoice_date": i.get("invoiceDate"),
                "status": i.get("status"),
                "total": str(_decimal(i, "totalAmountIncludingTax")),
            }
            for i in ordered
        ],
        "created": False,
    }


@dataclass(frozen=True)
class SkuLine:
    """What a sales order (or its invoices) says about one item.

    Attributes:
        unit_price: The price of its first line.
        invoiced: Units invoiced, all lines of the SKU together.
    """

    unit_price: Decimal
    invoiced: Decimal


def sku_lines(
    lines: Iterable[Mapping[str, Any]], *, invoiced_key: str | None
) -> dict[str, SkuLine]:
    """Item lines by SKU: the first line's price and the units invoiced.

    Args:
        lines: ``salesOrderLines`` (with ``invoiced_key`` ``invoicedQuantity``), or the lines
            of the order's posted invoices (``invoiced_key`` None: each line's ``quantity``).
    """
    out: dict[str, SkuLine] = {}
    for line in lines:
        if line.get("lineType") != "Item":
            continue
        sku = str(line.get("lineObjectNumber"))
        units = _decimal(line, invoiced_key or "quantity")
        known = out.get(sku)
        price = known.unit_price if known is not None else _decimal(line, "unitPrice")
        out[sku] = SkuLine(price, units + (known.invoiced if known is not None else Decimal(0)))
    return out


def returned_quantities(ret: Return, kind: str) -> dict[str, Decimal]:
    """Units coming back per SKU.

    Raises:
        PermanentFailureError: A return line without a SKU.
    """
    out: dict[str, Decimal] = {}
    for index, line in enumerate(ret.lines):
        if not line.sku:
            raise PermanentFailureError(
                f"{kind}: return line {index} (order line {line.line_id}) has no SKU; "
                "Business Central credits items by number"
            )
        out[line.sku] = out.get(line.sku, Decimal(0)) + line.quantity
    return out


def crediting_invoice(
    invoices: Sequence[Mapping[str, Any]], returned: Mapping[str, Decimal]
) -> Mapping[str, Any] | None:
    """The first posted invoice (by number) that invoiced every returned unit, or None."""
    for invoice in sorted(invoices, key=lambda i: str(i.get("number"))):
        lines = sku_lines(invoice.get("salesInvoiceLines") or [], invoiced_key=None)
        if all(sku in lines and lines[sku].invoiced >= q for sku, q in returned.items()):
            return invoice
    return None


def credit_memo_body(
    ret: Return,
    returned: Mapping[str, Decimal],
    sold: Mapping[str, SkuLine],
    *,
    customer_number: str,
    currency_code: str | None,
    invoice_id: str | None,
    kind: str,
) -> JSONObject:
    """The deep-insert body of ``POST salesCreditMemos`` for a return.

    Args:
        ret: The canonical return (its ``id`` is set).
        returned: Units per SKU (`returned_quantities`).
        sold: The order's items (`sku_lines`): prices, and the most that can come back.
        customer_number: The order's customer.
        currency_code: The order's ``currencyCode`` (empty for the local currency).
        invoice_id: The posted invoice it credits, if one covers the whole return.
        kind: The command kind (for messages).

    Raises:
        PermanentFailureError: A SKU the order does not have, or more units than it invoiced.
    """
    if not ret.id:
        raise PermanentFailureError(f"{kind}: the return needs its hub id")
    lines = []
    for sku, quantity in returned.items():
        line = sold.get(sku)
        if line is None:
            raise PermanentFailureError(f"{kind}: the sales order has no item {sku!r}")
        if quantity > line.invoiced:
            raise PermanentFailureError(
                f"{kind}: {quantity} of {sku!r} come back but {line.invoiced} were invoiced"
            )
        lines.append(
            {
                "lineType": "Item",
                "lineObjectNumber": sku,
                "quantity": quantity,
                "unitPrice": line.unit_price,
            }
        )
    body: JSONObject = {
        "externalDocumentNumber": external_document_number(ret.id),
        "customerNumber": customer_number,
    }
    if currency_code is not None:
        body["currencyCode"] = currency_code
    if invoice_id is not None:
        body["invoiceId"] = invoice_id
    body["salesCreditMemoLines"] = lines
    return body


def credit_memo_result(
    memo: Mapping[str, Any], *, return_id: str, created: bool = False, posted: bool = False
) -> JSONObject:
    """The result of ``return.authorize`` / ``return.credit``: the credit memo as it stands."""
    invoice_number = memo.get("invoiceNumber")
    return {
        "id": memo.get("id"),
        "number": memo.get("number"),
        "external_document_number": memo.get("externalDocumentNumber"),
        "return_id": return_id,
        "status": memo.get("status"),
        "invoice_number": invoice_number or None,
        "total": str(_decimal(memo, "totalAmountIncludingTax")),
        "created": created,
        "posted": posted,
    }


def close_plan(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The lines of a sales order with more ordered than shipped (the remainder to cancel)."""
    return [
        line
        for line in _sold(order.get("salesOrderLines"))
        if _decimal(line, "quantity") > _decimal(line, "shippedQuantity")
    ]
