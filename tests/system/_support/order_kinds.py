"""The kinds of generated orders, their storefront specs, and what each kind must end as.

`expected_outcome(kind)` is the one place that says where an order of a kind must end (its
allowed final flow states) and which systems must then hold exactly one record of it (the
others none). Adjust it, and only it, when the flow's exception handling changes.

The catalogue is the demo's (`crossdock.hub.demo.demo_scenarios`) plus two SKUs the system
tests add: `BACKORDER_SKU`, known everywhere with no stock (the storefront sells it anyway),
and `UNKNOWN_SKU`, sold by the storefront but unknown to every other system and never reported
to the hub (the order is quarantined).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "BACKORDER_SKU",
    "CRM",
    "ERP",
    "KIND_WEIGHTS",
    "UNKNOWN_SKU",
    "WAREHOUSE",
    "Expected",
    "Kind",
    "expected_outcome",
    "order_spec",
    "plan_kinds",
]

BACKORDER_SKU: Final = "CD-BACKORDER"
UNKNOWN_SKU: Final = "CD-UNKNOWN"

ERP: Final = "erp"
CRM: Final = "crm"
WAREHOUSE: Final = "warehouse"


class Kind(StrEnum):
    """What a generated order is, and what the test does to it after placing it."""

    PAID = "paid"
    """Paid, shipped by ShipStation in one shipment."""
    SPLIT = "split_shipment"
    """Paid, several units: ShipStation ships the first line, then (once the hub has recorded
    the partial shipment) the rest."""
    EDI = "edi_3pl"
    """Paid, a Canadian address: released to the EDI 3PL, which ships it on its own."""
    PENDING = "pending_payment"
    """Not paid: held before release."""
    FRAUD = "fraud"
    """Tagged ``fraud``: held for review."""
    BACKORDER = "backorder"
    """A line of `BACKORDER_SKU` (no stock anywhere)."""
    CANCEL_BEFORE = "cancel_before_release"
    """Not paid; cancelled in the storefront once the hub holds it for payment."""
    CANCEL_AFTER = "cancel_after_release"
    """Paid; cancelled in the storefront once ShipStation has it, before it ships."""
    DUPLICATES = "duplicate_webhooks"
    """Paid; its ``orders/create`` and ``orders/updated`` webhooks are sent again (new
    webhook ids, so the inbox cannot absorb them: the flow must)."""
    UNKNOWN = "unknown_sku"
    """A line of `UNKNOWN_SKU`: quarantined, no system hears of it."""


class Expected(NamedTuple):
    """Where an order of a kind must end.

    Attributes:
        states: The flow states it may end in.
        systems: The systems (`ERP`, `CRM`, `WAREHOUSE`) that must hold exactly one record of
            it; the others must hold none.
        passes: States its flow history must have gone through on the way.
    """

    states: frozenset[str]
    systems: frozenset[str]
    passes: frozenset[str] = frozenset()


_EVERYWHERE = frozenset({ERP, CRM, WAREHOUSE})
_HELD = frozenset({ERP, CRM})


def expected_outcome(kind: Kind) -> Expected:
    """The final flow state(s) an order of `kind` may end in and the systems holding it once."""
    done = frozenset({"closed"})  # shipped, delivered (carrier), invoiced (ERP), paid
    match kind:
        case Kind.PAID | Kind.DUPLICATES:
            return Expected(done, _EVERYWHERE)
        case Kind.SPLIT:
            return Expected(done, _EVERYWHERE, frozenset({"partially_shipped"}))
        case Kind.EDI:
            return Expected(done, _EVERYWHERE)
        case Kind.PENDING:
            return Expected(frozenset({"payment_held"}), _HELD)
        case Kind.FRAUD:
            return Expected(frozenset({"fraud_hold"}), _HELD)
        case Kind.BACKORDER:
            return Expected(frozenset({"backorder"}), _HELD)
        case Kind.CANCEL_BEFORE:
            return Expected(frozenset({"cancelled"}), _HELD, frozenset({"payment_held"}))
        case Kind.CANCEL_AFTER:
            return Expected(
                frozenset({"cancelled_after_release"}),
                _EVERYWHERE,
                frozenset({"released_to_warehouse"}),
            )
        case Kind.UNKNOWN:
            return Expected(frozenset({"quarantined"}), frozenset())
    raise AssertionError(f"no expected outcome for {kind!r}")  # pragma: no cover


KIND_WEIGHTS: Final[dict[Kind, int]] = {
    Kind.PAID: 22,
    Kind.SPLIT: 14,
    Kind.EDI: 10,
    Kind.PENDING: 8,
    Kind.FRAUD: 6,
    Kind.BACKORDER: 6,
    Kind.CANCEL_BEFORE: 8,
    Kind.CANCEL_AFTER: 8,
    Kind.DUPLICATES: 10,
    Kind.UNKNOWN: 8,
}
"""How often each kind is generated (relative weights)."""


def plan_kinds(
    count: int, rng: random.Random, weights: dict[Kind, int] | None = None
) -> list[Kind]:
    """`count` kinds: every kind of `weights` at least once (when `count` allows), then drawn."""
    chosen = weights or KIND_WEIGHTS
    kinds = [k for k, w in chosen.items() if w > 0]
    plan = kinds[:count]
    plan += rng.choices(kinds, [chosen[k] for k in kinds], k=max(0, count - len(plan)))
    rng.shuffle(plan)
    return plan


_US: Final = ("Springfield", "IL", "62701", "US", "Main Street")
_CA: Final = ("Montréal", "QC", "H2X 1Y4", "CA", "rue Sainte-Catherine O")
_NAMES: Final = (("Ada", "Lovelace"), ("Zoë", "Ørsted"), ("José", "Muñoz"), ("Łukasz", "Wróbel"))


def _address(
    n: int, first: str, last: str, place: tuple[str, str, str, str, str]
) -> dict[str, Any]:
    city, province, zip_code, country, street = place
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "address1": f"{n % 900 + 1} {street}",
        "city": city,
        "province_code": province,
        "zip": zip_code,
        "country_code": country,
        "phone": "+1 217 555 0100",
    }


def order_spec(
    kind: Kind, n: int, run: str, skus: Sequence[str], rng: random.Random
) -> dict[str, Any]:
    """The storefront spec (``POST /_sandbox/shopify/orders``) of order number `n` of a run.

    Every order has its own customer (e-mail unique to `run`), so no two orders race on one
    customer record.
    """
    first, last = _NAMES[n % len(_NAMES)]
    place = _CA if kind is Kind.EDI else _US
    address = _address(n, first, last, place)
    units = [1, 1, 2, 3]
    if kind in (Kind.PAID, Kind.DUPLICATES, Kind.CANCEL_AFTER):
        lines = [{"sku": rng.choice(skus), "quantity": rng.choice(units)}]
    elif kind is Kind.SPLIT:
        first_sku, second_sku = rng.sample(list(skus), 2)
        lines = [
            {"sku": first_sku, "quantity": rng.choice([1, 2])},
            {"sku": second_sku, "quantity": rng.choice([1, 2])},
        ]
    else:
        lines = [
            {"sku": sku, "quantity": rng.choice(units)}
            for sku in rng.sample(list(skus), rng.randint(1, 2))
        ]
    if kind is Kind.BACKORDER:
        lines.append({"sku": BACKORDER_SKU, "quantity": rng.choice([1, 2])})
    if kind is Kind.UNKNOWN:
        lines.insert(0, {"sku": UNKNOWN_SKU, "quantity": 1})
    email = f"buyer{n}.{run}@example.com"
    spec: dict[str, Any] = {
        "line_items": lines,
        "email": email,
        "customer": {
            "email": email,
            "first_name": first,
            "last_name": last,
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "tax": {"title": "Sales tax", "rate": "0.07", "included": rng.random() < 0.3},
        "shipping": {"title": "Standard", "price": rng.choice(["0.00", "4.90", "9.90"])},
        "source_name": "web",
    }
    if rng.random() < 0.3:
        spec["discount"] = {"code": "WELCOME10", "type": "percentage", "value": "10"}
    if kind in (Kind.PENDING, Kind.CANCEL_BEFORE):
        spec["financial_status"] = "pending"
    if kind is Kind.FRAUD:
        spec["tags"] = "fraud"
    return spec
