"""Order to fulfilment: channel -> ERP -> CRM -> payment gate -> warehouse -> carrier -> invoice.

The state machine is declared as data in `MACHINE` (``MACHINE.to_mermaid()`` draws it); the
decisions are the pure `decide`; `OrderFulfilment` routes events to orders and gathers the
lookups a decision needs.
"""

from crossdock.flows.order_fulfilment.decide import FLOW_NAME, OrderContext, decide
from crossdock.flows.order_fulfilment.flow import EMAIL_LINK, OrderFulfilment, order_key_for
from crossdock.flows.order_fulfilment.machine import MACHINE
from crossdock.flows.order_fulfilment.ports import (
    AvailabilityLookup,
    StaticAvailability,
    StockReservations,
)
from crossdock.flows.order_fulfilment.settings import (
    BackorderRule,
    EditQuantitiesUntil,
    FraudRules,
    OrderFulfilmentSettings,
    Route,
)

__all__ = [
    "EMAIL_LINK",
    "FLOW_NAME",
    "MACHINE",
    "AvailabilityLookup",
    "BackorderRule",
    "EditQuantitiesUntil",
    "FraudRules",
    "OrderContext",
    "OrderFulfilment",
    "OrderFulfilmentSettings",
    "Route",
    "StaticAvailability",
    "StockReservations",
    "decide",
    "order_key_for",
]
