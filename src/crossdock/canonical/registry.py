"""The registry of canonical entities and their schema versions.

Every published schema version of every entity is listed here, keyed ``"<entity>.v<n>"``.
Governance (ownership of attributes), schema export and the event catalogue read this module
rather than importing entity modules one by one.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

ENTITY_NAMES: tuple[str, ...] = (
    "customer",
    "product",
    "price",
    "inventory_level",
    "order",
    "shipment",
    "invoice",
    "return",
)

# Fields every entity carries for bookkeeping; they are not attributes a system can own.
BOOKKEEPING_FIELDS: frozenset[str] = frozenset({"schema_version", "id"})


def all_versions() -> dict[str, type[BaseModel]]:
    """Return every published entity model keyed by schema version, e.g. ``"order.v1"``.

    Returns:
        A new dict (safe to mutate by the caller) in `ENTITY_NAMES` order, oldest version first.
    """
    return dict(_versions())


@cache
def _versions() -> dict[str, type[BaseModel]]:
    from crossdock.canonical.customer import Customer
    from crossdock.canonical.inventory import InventoryLevel
    from crossdock.canonical.invoice import Invoice
    from crossdock.canonical.order import Order
    from crossdock.canonical.price import Price
    from crossdock.canonical.product import Product
    from crossdock.canonical.returns import Return
    from crossdock.canonical.shipment import Shipment

    return {
        "customer.v1": Customer,
        "product.v1": Product,
        "price.v1": Price,
        "inventory_level.v1": InventoryLevel,
        "order.v1": Order,
        "shipment.v1": Shipment,
        "invoice.v1": Invoice,
        "return.v1": Return,
    }


def _check_entity(entity: str) -> None:
    if entity not in ENTITY_NAMES:
        known = ", ".join(ENTITY_NAMES)
        raise KeyError(f"unknown entity {entity!r}; known entities: {known}")


def _version_number(key: str) -> int:
    return int(key.rsplit(".v", 1)[1])


def latest_model(entity: str) -> type[BaseModel]:
    """Return the model of the latest schema version of `entity`.

    Raises:
        KeyError: `entity` is not a canonical entity name.
    """
    _check_entity(entity)
    versions = _versions()
    keys = [k for k in versions if k.rsplit(".v", 1)[0] == entity]
    return versions[max(keys, key=_version_number)]


def entity_attributes(entity: str) -> frozenset[str]:
    """Return the top-level attribute names of the latest model of `entity`.

    Bookkeeping fields (`schema_version`, `id`) are left out: they are not owned by any system.

    Raises:
        KeyError: `entity` is not a canonical entity name.
    """
    model = latest_model(entity)
    return frozenset(model.model_fields) - BOOKKEEPING_FIELDS


def required_attributes(entity: str) -> frozenset[str]:
    """Return the attributes of `entity` (see `entity_attributes`) that have no default.

    Raises:
        KeyError: `entity` is not a canonical entity name.
    """
    model = latest_model(entity)
    return (
        frozenset(name for name, field in model.model_fields.items() if field.is_required())
        - BOOKKEEPING_FIELDS
    )
