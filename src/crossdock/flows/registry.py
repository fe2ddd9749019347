"""Build the flows the governance file enables, ready for a `FlowRunner`."""

from __future__ import annotations

from crossdock.flows.engine import Flow
from crossdock.flows.order_fulfilment import (
    AvailabilityLookup,
    FraudRules,
    OrderFulfilment,
    OrderFulfilmentSettings,
)
from crossdock.flows.order_fulfilment.settings import BackorderRule
from crossdock.governance.flows import FlowName
from crossdock.governance.model import Governance

__all__ = ["flows_from_governance"]


def flows_from_governance(
    governance: Governance,
    *,
    availability: AvailabilityLookup,
    fraud: FraudRules | None = None,
    backorder: BackorderRule | None = None,
) -> list[Flow]:
    """Return the implemented flows that the governance file enables.

    Only order fulfilment is implemented so far; other enabled flows are left out (the caller
    can compare with ``governance.enabled_flows()`` to report them).

    Args:
        governance: The loaded governance file.
        availability: The availability cache port the order flow checks stock with.
        fraud: Fraud rules (None: the governance file's, else the defaults).
        backorder: The backorder rule (None: the governance file's ``backorder``).
    """
    flows: list[Flow] = []
    if FlowName.ORDER_FULFILMENT in governance.enabled_flows():
        settings = OrderFulfilmentSettings.from_governance(
            governance, fraud=fraud, backorder=backorder
        )
        flows.append(OrderFulfilment(settings, availability))
    return flows
