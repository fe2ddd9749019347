"""Shopify connector: pure mapping of Shopify payloads to the canonical model (see `orders`)."""

from crossdock.connectors.shopify.orders import (
    order_from_shopify,
    refund_from_shopify,
    return_lines_from_shopify_refund,
)

__all__ = ["order_from_shopify", "refund_from_shopify", "return_lines_from_shopify_refund"]
