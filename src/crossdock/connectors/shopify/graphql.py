"""The GraphQL Admin documents the connector sends, and how their answers are read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANNOTATE_GRAPHQL_SINCE",
    "INVENTORY_ITEM_SKU",
    "INVENTORY_QUANTITY",
    "ORDER_NOTE_AND_TAGS",
    "ORDER_NOTE_UPDATE",
    "PRICES_UPDATE",
    "REFUND_CREATE_SINCE",
    "TAGS_ADD",
    "TAGS_REMOVE",
    "idempotency_key",
    "inventory_set_document",
    "refund_create_document",
    "user_errors",
]

_KEY_NAMESPACE = uuid.UUID("0b6f2b8e-45a1-4c7e-9d0e-7f2a8c3e51d4")


def idempotency_key(command_key: str, *parts: object) -> str:
    """A UUID for Shopify's ``@idempotent(key:)``, derived from the command's idempotency key.

    The same command with the same parameters gets the same key (a resend is absorbed); a
    re-issue with different parameters (a fresh ``changeFromQuantity``) gets another, since
    Shopify refuses one key with two parameter sets (IDEMPOTENCY_KEY_PARAMETER_MISMATCH).
    """
    text = "|".join([command_key, *(str(p) for p in parts)])
    return str(uuid.uuid5(_KEY_NAMESPACE, text))


def inventory_set_document(key: str) -> str:
    """The ``inventorySetQuantities`` mutation with its ``@idempotent`` key inlined.

    The directive takes a literal: the key is written as a JSON string (always a UUID here).
    """
    literal = json.dumps(key)
    return (
        "mutation InventorySet($input: InventorySetQuantitiesInput!) {\n"
        f"  inventorySetQuantities(input: $input) @idempotent(key: {literal}) {{\n"
        "    inventoryAdjustmentGroup { id createdAt reason referenceDocumentUri\n"
        "      changes { name delta quantityAfterChange } }\n"
        "    userErrors { code field message }\n"
        "  }\n"
        "}\n"
    )


REFUND_CREATE_SINCE = "2026-01"
"""The first API version whose ``refundCreate`` takes ``@idempotent`` (mandatory from 2026-04)."""


def refund_create_document(key: str) -> str:
    """The ``refundCreate`` mutation with its ``@idempotent`` key inlined (a JSON string)."""
    literal = json.dumps(key)
    return (
        "mutation RefundCreate($input: RefundInput!) {\n"
        f"  refundCreate(input: $input) @idempotent(key: {literal}) {{\n"
        "    refund { id legacyResourceId note createdAt\n"
        "      totalRefundedSet { shopMoney { amount currencyCode } } }\n"
        "    userErrors { field message }\n"
        "  }\n"
        "}\n"
    )


INVENTORY_QUANTITY = """
query InventoryQuantity($item: ID!, $location: ID!) {
  inventoryItem(id: $item) {
    id
    sku
    inventoryLevel(locationId: $location) { id quantities(names: ["available"]) { name quantity } }
  }
}
"""

INVENTORY_ITEM_SKU = """
query InventoryItemSku($item: ID!) { inventoryItem(id: $item) { id sku } }
"""

PRICES_UPDATE = """
mutation PricesUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id sku price compareAtPrice }
    userErrors { code field message }
  }
}
"""


ANNOTATE_GRAPHQL_SINCE = REFUND_CREATE_SINCE
"""From this pinned version ``order.annotate`` goes through GraphQL (``tagsAdd``, ``tagsRemove``,
``orderUpdate``), as refunds do; older pins keep the REST order update."""

ORDER_NOTE_AND_TAGS = """
query OrderNoteAndTags($id: ID!) { order(id: $id) { id note tags } }
"""

TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}
"""

TAGS_REMOVE = """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}
"""

ORDER_NOTE_UPDATE = """
mutation OrderNoteUpdate($input: OrderInput!) {
  orderUpdate(input: $input) { order { id note } userErrors { field message } }
}
"""


def user_errors(data: Any, field: str) -> list[Mapping[str, Any]]:
    """Return ``data.<field>.userErrors`` (empty when absent)."""
    if not isinstance(data, Mapping):
        return []
    payload = data.get(field)
    if not isinstance(payload, Mapping):
        return []
    errors = payload.get("userErrors") or []
    return [e for e in errors if isinstance(e, Mapping)]
