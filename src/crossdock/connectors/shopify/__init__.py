"""Shopify connector: webhooks in (HMAC, dedupe keys, decoding), Admin API commands out, backfill.

Pure mappings live in `orders` and `catalog`; webhook headers and signatures in `webhooks`; the
topic decoders in `decode`; the connector class in `connector`; order backfill in `backfill`.
"""

from crossdock.connectors.shopify.backfill import (
    BackfillCursor,
    BackfillResult,
    backfill_orders,
    infer_order_topic,
    next_link,
)
from crossdock.connectors.shopify.budget import ShopifyBudget, use_api
from crossdock.connectors.shopify.catalog import (
    inventory_level_from_shopify,
    prices_from_shopify_product,
    product_from_shopify,
    variant_inventory_items,
)
from crossdock.connectors.shopify.connector import ShopifyConnector, ShopifySettings
from crossdock.connectors.shopify.decode import (
    TOPICS,
    DecodeContext,
    DecodeError,
    OrderQuarantined,
    decode_inventory_level,
    decode_order,
    decode_product,
    decode_refund,
    event_id_for,
    order_state_key,
    parse_body,
)
from crossdock.connectors.shopify.errors import SHOPIFY_ERROR_TABLE
from crossdock.connectors.shopify.orders import (
    order_from_shopify,
    refund_from_shopify,
    return_lines_from_shopify_refund,
)
from crossdock.connectors.shopify.stale import StaleGuard, is_stale
from crossdock.connectors.shopify.version import (
    ApiVersionError,
    VersionState,
    VersionStatus,
    check_api_version,
    retirement_date,
    version_status,
)
from crossdock.connectors.shopify.webhooks import (
    InvalidSignatureError,
    WebhookHeaders,
    delivery_key,
    event_key,
    inbox_dedupe_key,
    verify_webhook,
)

__all__ = [
    "SHOPIFY_ERROR_TABLE",
    "TOPICS",
    "ApiVersionError",
    "BackfillCursor",
    "BackfillResult",
    "DecodeContext",
    "DecodeError",
    "InvalidSignatureError",
    "OrderQuarantined",
    "ShopifyBudget",
    "ShopifyConnector",
    "ShopifySettings",
    "StaleGuard",
    "VersionState",
    "VersionStatus",
    "WebhookHeaders",
    "backfill_orders",
    "check_api_version",
    "decode_inventory_level",
    "decode_order",
    "decode_product",
    "decode_refund",
    "delivery_key",
    "event_id_for",
    "event_key",
    "inbox_dedupe_key",
    "infer_order_topic",
    "inventory_level_from_shopify",
    "is_stale",
    "next_link",
    "order_from_shopify",
    "order_state_key",
    "parse_body",
    "prices_from_shopify_product",
    "product_from_shopify",
    "refund_from_shopify",
    "retirement_date",
    "return_lines_from_shopify_refund",
    "use_api",
    "variant_inventory_items",
    "verify_webhook",
    "version_status",
]
