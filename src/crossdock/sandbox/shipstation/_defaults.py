"""The default ShipStation scenario: one key pair, the real 40-per-minute quota, three carriers."""

from __future__ import annotations

from typing import Any

from crossdock.sandbox.kit import Scenario

API_KEY = "ss-sandbox-api-key-0f1e2d3c"
API_SECRET = "ss-sandbox-api-secret-4b5a6978"  # noqa: S105 - a sandbox test credential

WEBHOOK_EVENTS = (
    "ORDER_NOTIFY",
    "ITEM_ORDER_NOTIFY",
    "SHIP_NOTIFY",
    "ITEM_SHIP_NOTIFY",
    "FULFILLMENT_SHIPPED",
    "FULFILLMENT_REJECTED",
)

DEFAULT_DATA: dict[str, Any] = {
    "accounts": [{"api_key": API_KEY, "api_secret": API_SECRET}],
    "store_id": 12_345,
    "warehouse_id": 41_001,
    "rate_limit": {"limit": 40, "window_s": 60},
    "carriers": [
        {"carrierCode": "ups", "serviceCode": "ups_ground"},
        {"carrierCode": "fedex", "serviceCode": "fedex_ground"},
        {"carrierCode": "stamps_com", "serviceCode": "usps_priority_mail"},
    ],
    "webhooks": {"time_scale": 1.0, "notify_on_void": True},
    "orders": [],
}


def default_scenario() -> Scenario:
    """The default account (a copy: callers may change it)."""
    import copy

    return Scenario(seed=0, data=copy.deepcopy(DEFAULT_DATA), name="shipstation-default")
