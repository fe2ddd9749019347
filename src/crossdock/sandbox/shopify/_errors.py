"""How the shop refuses an operation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class ShopError(Exception):
    """An operation refused the way Shopify refuses it: a status and a JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def to_decimal(value: Any, field: str) -> Decimal:
    """A decimal from request input, or the 422 Shopify answers for a non-number."""
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise ShopError(422, {"errors": {field: ["is not a number"]}}) from exc
