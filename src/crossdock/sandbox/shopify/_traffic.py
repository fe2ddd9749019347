"""Storefront traffic: realistic random order specs, repeatable under a seed."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

NAMES = [
    ("Zoë", "Ørsted", "København", "DK", "2100", "Østerbrogade 12"),
    ("José", "Muñoz", "Sevilla", "ES", "41001", "Calle Sierpes 4"),
    ("Łukasz", "Wróbel", "Kraków", "PL", "31-042", "Rynek Główny 1"),
    ("Renée", "Lefèvre", "Lyon", "FR", "69002", "12 rue de la République"),
    ("Jürgen", "Straße", "München", "DE", "80331", "Marienplatz 8"),
    ("Ana", "Silva", "São Paulo", "BR", "01310-100", "Av. Paulista 1578"),
    ("Hiroshi", "田中", "東京", "JP", "100-0005", "丸の内 1-1"),
    ("Chloé", "Nguyễn", "Montréal", "CA", "H2X 1Y4", "350 rue Sainte-Catherine O"),
]
CURRENCIES = [(None, None), ("USD", "1.0843"), ("GBP", "0.8571"), ("CHF", "0.9412")]
CODES = [
    {"code": "WELCOME10", "type": "percentage", "value": "10"},
    {"code": "SPRING5", "type": "fixed_amount", "value": "5.00"},
    {"code": "VIP25", "type": "percentage", "value": "25"},
]


def random_address(rng: random.Random) -> dict[str, Any]:
    """A shipping address with a non-ASCII name, city or street."""
    first, last, city, country, zip_code, street = rng.choice(NAMES)
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "company": None,
        "address1": street,
        "address2": None,
        "city": city,
        "province": None,
        "province_code": None,
        "zip": zip_code,
        "country": country,
        "country_code": country,
        "phone": None,
        "latitude": None,
        "longitude": None,
    }


def random_order_spec(
    rng: random.Random, skus: list[str], gift_card_sku: str | None
) -> dict[str, Any]:
    """One realistic storefront order: several lines, discounts, gift cards, currencies, B2B."""
    address = random_address(rng)
    lines: list[dict[str, Any]] = [
        {"sku": rng.choice(skus), "quantity": rng.choice([1, 1, 1, 2, 3])}
        for _ in range(rng.randint(1, 3))
    ]
    if rng.random() < 0.15:
        lines.append({"title": "Gravure personnalisée", "price": "7.50", "quantity": 1})
    if gift_card_sku is not None and rng.random() < 0.1:
        lines.append({"sku": gift_card_sku, "quantity": 1, "gift_card": True})
    presentment, rate = rng.choice(CURRENCIES)
    spec: dict[str, Any] = {
        "line_items": lines,
        "email": f"{address['first_name'].lower()}@example.com",
        "customer": {
            "email": f"{address['first_name'].lower()}@example.com",
            "first_name": address["first_name"],
            "last_name": address["last_name"],
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "tax": {"title": "TVA", "rate": "0.2", "included": rng.random() < 0.5},
        "shipping": {"title": "Colissimo", "price": rng.choice(["0.00", "4.90", "9.90"])},
        "source_name": "web",
    }
    if presentment:
        spec["presentment_currency"], spec["fx_rate"] = presentment, rate
    if rng.random() < 0.35:
        spec["discount"] = rng.choice(CODES)
    if rng.random() < 0.15:
        spec["gift_card_payment"] = str(Decimal(rng.choice([10, 25])))
    if rng.random() < 0.08:
        spec["company"] = {"id": rng.randrange(10**6), "name": "Ça Va Trading SARL"}
        spec["tags"] = "b2b"
    elif rng.random() < 0.08:
        spec["source_name"] = "shopify_draft_order"
    return spec
