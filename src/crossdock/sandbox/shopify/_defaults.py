"""The default Shopify scenario: a small shop with non-ASCII products, two locations and stock."""

from __future__ import annotations

from typing import Any

from crossdock.sandbox.kit import Scenario

SUPPORTED_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
"""API versions the simulator serves, oldest first (Shopify supports each for a year)."""
LATEST_VERSION = SUPPORTED_VERSIONS[-1]

DEFAULT_DATA: dict[str, Any] = {
    "shop": {
        "domain": "crossdock-sandbox.myshopify.com",
        "name": "Crossdock Sandbox",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "access_token": "shpat_sandbox_0123456789abcdef0123456789abcdef",
        "client_secret": "sandbox-client-secret-rotate-me",
        "webhook_api_version": LATEST_VERSION,
        "rest_bucket_size": 40,
        "rest_leak_per_s": 2,
        "graphql_maximum_available": 2000,
        "graphql_restore_rate": 100,
    },
    "locations": [
        {"key": "main", "name": "Entrepôt Lyon", "city": "Lyon", "country_code": "FR"},
        {"key": "annex", "name": "Lager München", "city": "München", "country_code": "DE"},
    ],
    "products": [
        {
            "title": "Crème brûlée mug",
            "vendor": "Atelier Céramique",
            "product_type": "Kitchen",
            "tags": "mug, ceramic",
            "variants": [
                {"sku": "MUG-RED", "title": "Rouge", "price": "14.90", "stock": {"main": 400}},
                {"sku": "MUG-BLU", "title": "Bleu", "price": "14.90", "stock": {"main": 120}},
            ],
        },
        {
            "title": "Straßen-Rucksack",
            "vendor": "Nordwand",
            "product_type": "Bags",
            "tags": "bag",
            "variants": [
                {
                    "sku": "BAG-20L",
                    "title": "20 L",
                    "price": "89.00",
                    "compare_at_price": "99.00",
                    "stock": {"main": 50, "annex": 9},
                }
            ],
        },
        {
            "title": "Tea towel 東京",
            "vendor": "Kasuri",
            "product_type": "Linen",
            "tags": "",
            "variants": [
                {
                    "sku": "TOWEL-TKY",
                    "title": "Default Title",
                    "price": "9.50",
                    "stock": {"main": 0},
                }
            ],
        },
        {
            "title": "Gift card",
            "vendor": "Crossdock Sandbox",
            "product_type": "Gift card",
            "tags": "gift",
            "variants": [
                {
                    "sku": "",
                    "title": "25 €",
                    "price": "25.00",
                    "gift_card": True,
                    "requires_shipping": False,
                    "taxable": False,
                    "stock": {},
                }
            ],
        },
    ],
    "orders": [],
}


def default_scenario() -> Scenario:
    """The default shop (seed 1)."""
    return Scenario(seed=1, data=DEFAULT_DATA, name="shopify-default")
