"""The canonical return (``return.v1``): what comes back, why, what happens to it, the refund."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp
from crossdock.canonical.money import Money
from crossdock.canonical.refs import OrderRef

__all__ = [
    "DISPOSITIONS",
    "RETURN_REASONS",
    "RETURN_STATUSES",
    "Refund",
    "RefundTransaction",
    "Return",
    "ReturnLine",
]

ReturnReason = Literal[
    "damaged",
    "defective",
    "wrong_item",
    "not_as_described",
    "size_or_fit",
    "unwanted",
    "other",
    "unknown",
]
Disposition = Literal["restock", "refurbish", "dispose", "return_to_vendor", "pending"]
ReturnStatus = Literal[
    "requested", "approved", "in_transit", "received", "refunded", "closed", "rejected", "cancelled"
]
RETURN_REASONS: tuple[str, ...] = get_args(ReturnReason)
DISPOSITIONS: tuple[str, ...] = get_args(Disposition)
RETURN_STATUSES: tuple[str, ...] = get_args(ReturnStatus)


class ReturnLine(CanonicalModel):
    """Units of one order line coming back.

    Attributes:
        line_id: the order line (`OrderLine.line_id`).
        disposition: what the warehouse does with the units; ``"pending"`` until inspected.
    """

    line_id: NonEmptyStr
    sku: NonEmptyStr | None = None
    quantity: Annotated[int, Field(ge=1)]
    reason: ReturnReason = "unknown"
    reason_note: str | None = None
    disposition: Disposition = "pending"


class RefundTransaction(CanonicalModel):
    """Money given back through one tender (a card refund, a new gift card)."""

    gateway: str | None = None
    amount: Money
    status: Literal["pending", "success", "failure", "error"] = "success"
    processed_at: Timestamp | None = None


class Refund(CanonicalModel):
    """What is refunded for a return (or for an order without a return).

    Attributes:
        subtotal: refunded line amounts, tax excluded.
        tax: refunded tax.
        shipping: refunded shipping.
        total: the sum of the transactions.
        restock: whether the refunded units go back to stock.
    """

    subtotal: Money
    tax: Money
    shipping: Money | None = None
    total: Money
    transactions: list[RefundTransaction] = Field(default_factory=list)
    restock: bool = False
    note: str | None = None
    refunded_at: Timestamp | None = None


class Return(CanonicalModel):
    """A return of some units of an order (``return.v1``)."""

    schema_version: Literal["return.v1"] = "return.v1"
    id: HubId | None = None
    order: OrderRef
    number: str | None = None
    lines: list[ReturnLine] = Field(min_length=1)
    reason: ReturnReason = "unknown"
    status: ReturnStatus
    refund: Refund | None = None
    requested_at: Timestamp
    received_at: Timestamp | None = None
