"""Pure mapping of Business Central items (as polled) to canonical inventory levels.

``items.inventory`` is the item's quantity on hand over all locations (BC's *Inventory*
flow field); the items API reports no reservations, so ``available`` is the same figure and
``reserved`` is unknown. Decode with ``parse_float=Decimal``: BC sends JSON numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.mapping import MappingError, blank_to_none, quantity, timestamp


def inventory_level_from_item(
    item: Mapping[str, Any], *, location: str, source: str = "businesscentral"
) -> InventoryLevel:
    """Map one polled item to the `InventoryLevel` of its SKU (the item ``number``).

    Args:
        item: The item entity (``number``, ``inventory``, ``lastModifiedDateTime``).
        location: The hub's location code for this company's stock.
        source: The system name as configured.

    Raises:
        MappingError: No number, or an inventory that is not a whole number of units.
    """
    sku = blank_to_none(item.get("number"))
    if sku is None:
        raise MappingError("business central item without a number")
    on_hand = quantity(item.get("inventory"), field=f"items[{sku}].inventory")
    return InventoryLevel(
        sku=sku,
        location=location,
        on_hand=on_hand,
        available=on_hand,
        as_of=timestamp(
            item.get("lastModifiedDateTime"), field=f"items[{sku}].lastModifiedDateTime"
        ),
        source=source,
    )
