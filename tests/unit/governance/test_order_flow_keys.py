"""The order flow's rules in ``[flows.order_fulfilment]``: backorder rule and fraud rules."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from crossdock.flows.order_fulfilment import (
    BackorderRule,
    FraudRules,
    OrderFulfilmentSettings,
    StaticAvailability,
)
from crossdock.flows.registry import flows_from_governance
from crossdock.governance.errors import GovernanceError
from crossdock.governance.loader import load_governance

FLOW = "flows.order_fulfilment"
BASE = 'erp = "erp"\nchannels = ["shop"]\nrouting = [{ warehouse = "wms" }]'


def test_without_the_keys_the_defaults_apply(write: Callable[..., Path]) -> None:
    settings = OrderFulfilmentSettings.from_governance(load_governance(write()))
    assert settings.backorder is BackorderRule.HOLD
    assert settings.fraud == FraudRules()


def test_the_backorder_and_fraud_rules_are_read(write: Callable[..., Path]) -> None:
    body = "\n".join(
        [
            BASE,
            'backorder = "cancel_line"',
            'fraud_hold_tags = ["Review", "chargeback"]',
            "fraud_max_total = 2500",
            'fraud_country_mismatch_above = "150.50"',
        ]
    )
    settings = OrderFulfilmentSettings.from_governance(load_governance(write({FLOW: body})))
    assert settings.backorder is BackorderRule.CANCEL_LINE
    assert settings.fraud.hold_tags == frozenset({"Review", "chargeback"})
    assert settings.fraud.max_total == Decimal("2500")
    assert settings.fraud.country_mismatch_above == Decimal("150.50")


def test_arguments_take_precedence_over_the_file(write: Callable[..., Path]) -> None:
    governance = load_governance(write({FLOW: BASE + '\nbackorder = "split"'}))
    assert OrderFulfilmentSettings.from_governance(governance).backorder is BackorderRule.SPLIT
    chosen = OrderFulfilmentSettings.from_governance(
        governance, backorder=BackorderRule.HOLD, fraud=FraudRules(max_total=Decimal(1))
    )
    assert chosen.backorder is BackorderRule.HOLD
    assert chosen.fraud.max_total == Decimal(1)
    [flow] = flows_from_governance(governance, availability=StaticAvailability())
    assert flow.settings.backorder is BackorderRule.SPLIT  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('backorder = "ship_later"', "backorder"),
        ("fraud_max_total = -1", "fraud_max_total"),
        ('fraud_hold_tags = "fraud"', "fraud_hold_tags"),
    ],
)
def test_a_bad_rule_is_refused_with_its_key(
    write: Callable[..., Path], line: str, key: str
) -> None:
    with pytest.raises(GovernanceError) as caught:
        load_governance(write({FLOW: f"{BASE}\n{line}"}))
    assert key in str(caught.value)
