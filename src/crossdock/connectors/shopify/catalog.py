"""Pure mapping of Shopify ``products/update`` and ``inventory_levels/update`` bodies.

Decode the payloads with `crossdock.canonical.money.decimal_json_loads`. Variant prices are decimal
strings in the shop currency, which the payload does not name: the caller passes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.mapping import (
    MappingError,
    blank_to_none,
    decimal,
    timestamp,
    timestamp_or_none,
)
from crossdock.canonical.money import Money
from crossdock.canonical.price import Price
from crossdock.canonical.product import Product, ProductOption, Variant, Weight, gtin_is_valid

__all__ = [
    "inventory_level_from_shopify",
    "prices_from_shopify_product",
    "product_from_shopify",
    "variant_inventory_items",
]

Payload = Mapping[str, Any]
_STATUSES = ("active", "draft", "archived")
_WEIGHT_UNITS = ("g", "kg", "lb", "oz")


def product_from_shopify(payload: Payload) -> Product:
    """Map a ``products/update`` body (the full REST product) to a canonical `Product`.

    Variants without a SKU are left out (the canonical catalogue is keyed by SKU).

    Raises:
        MappingError: no variant has a SKU, or a field cannot be read.
        pydantic.ValidationError: the mapped product is otherwise invalid (duplicate SKUs).
    """
    variants = [_variant(v) for v in payload.get("variants") or [] if blank_to_none(v.get("sku"))]
    if not variants:
        raise MappingError(f"shopify product {payload.get('id')}: no variant has a SKU")
    status = str(payload.get("status") or "active").lower()
    return Product(
        title=blank_to_none(payload.get("title")) or f"Shopify product {payload.get('id')}",
        description=blank_to_none(payload.get("body_html")),
        status=status if status in _STATUSES else "draft",  # type: ignore[arg-type]
        vendor=blank_to_none(payload.get("vendor")),
        product_type=blank_to_none(payload.get("product_type")),
        tags=_tags(payload.get("tags")),
        options=[
            ProductOption(name=str(o.get("name")), values=[str(v) for v in o.get("values") or []])
            for o in payload.get("options") or []
            if blank_to_none(o.get("name"))
        ],
        variants=variants,
        created_at=timestamp_or_none(payload.get("created_at"), field="created_at"),
        updated_at=timestamp_or_none(payload.get("updated_at"), field="updated_at"),
    )


def prices_from_shopify_product(payload: Payload, *, currency: str, price_list: str) -> list[Price]:
    """Return the current price of every variant with a SKU, in the shop currency.

    Args:
        payload: the ``products/update`` body.
        currency: the shop currency (ISO 4217).
        price_list: the hub's price-list code for this shop.
    """
    prices = []
    for variant in payload.get("variants") or []:
        sku = blank_to_none(variant.get("sku"))
        if sku is None or variant.get("price") is None:
            continue
        where = f"variants[{variant.get('id')}]"
        compare_at = variant.get("compare_at_price")
        prices.append(
            Price(
                price_list=price_list,
                sku=sku,
                currency=currency,
                amount=Money(decimal(variant["price"], field=f"{where}.price"), currency),
                compare_at_amount=Money(
                    decimal(compare_at, field=f"{where}.compare_at_price"), currency
                )
                if blank_to_none(compare_at) is not None
                else None,
                valid_from=timestamp_or_none(
                    variant.get("updated_at"), field=f"{where}.updated_at"
                ),
            )
        )
    return prices


def variant_inventory_items(payload: Payload) -> dict[int, str]:
    """Return ``{inventory_item_id: sku}`` for the variants of a product body that have both."""
    found: dict[int, str] = {}
    for variant in payload.get("variants") or []:
        item, sku = variant.get("inventory_item_id"), blank_to_none(variant.get("sku"))
        if isinstance(item, int) and sku is not None:
            found[item] = sku
    return found


def inventory_level_from_shopify(
    payload: Payload, *, sku: str, location: str, source: str
) -> InventoryLevel | None:
    """Map an ``inventory_levels/update`` body to an `InventoryLevel`.

    The body names the inventory item and the location by Shopify id only; the caller resolves
    them to the SKU and the hub's location code.

    Returns:
        The level, or None when ``available`` is null (the item is not stocked or not tracked
        there: there is no number to report). A negative ``available`` (oversold) is kept.

    Raises:
        MappingError: ``available`` is not an integer, or ``updated_at`` is missing.
    """
    available = payload.get("available")
    if available is None:
        return None
    if isinstance(available, bool) or not isinstance(available, int):
        raise MappingError(f"inventory level: available must be an integer, got {available!r}")
    return InventoryLevel(
        sku=sku,
        location=location,
        available=available,
        as_of=timestamp(payload.get("updated_at"), field="updated_at"),
        source=source,
    )


def _variant(raw: Payload) -> Variant:
    barcode = blank_to_none(raw.get("barcode"))
    options = [raw.get(f"option{i}") for i in (1, 2, 3)]
    return Variant(
        sku=str(raw["sku"]).strip(),
        gtin=barcode if barcode and gtin_is_valid(barcode) else None,
        title=blank_to_none(raw.get("title")),
        option_values=[str(o) for o in options if o is not None],
        weight=_weight(raw),
        requires_shipping=bool(raw.get("requires_shipping", True)),
        taxable=bool(raw.get("taxable", True)),
        inventory_tracked=raw.get("inventory_management") is not None
        if "inventory_management" in raw
        else True,
    )


def _weight(raw: Payload) -> Weight | None:
    unit = raw.get("weight_unit")
    value = raw.get("weight")
    if value is not None and unit in _WEIGHT_UNITS:
        return Weight(value=decimal(value, field="weight"), unit=unit)
    grams = raw.get("grams")
    if isinstance(grams, int) and not isinstance(grams, bool) and grams >= 0:
        return Weight(value=decimal(grams, field="grams"), unit="g")
    return None


def _tags(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(t).strip() for t in raw if str(t).strip()]
    return [t.strip() for t in str(raw or "").split(",") if t.strip()]
