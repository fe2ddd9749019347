"""``edit_quantities_until`` in ``[flows.order_fulfilment]``: until when quantity edits apply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crossdock.flows.order_fulfilment import (
    EditQuantitiesUntil,
    OrderFulfilmentSettings,
    StaticAvailability,
)
from crossdock.flows.registry import flows_from_governance
from crossdock.governance.errors import GovernanceError
from crossdock.governance.loader import load_governance

FLOW = "flows.order_fulfilment"
BASE = 'erp = "erp"\nchannels = ["shop"]\nrouting = [{ warehouse = "wms" }]'


def test_without_the_key_edits_apply_until_release(write: Callable[..., Path]) -> None:
    settings = OrderFulfilmentSettings.from_governance(load_governance(write()))
    assert settings.edit_quantities_until is EditQuantitiesUntil.RELEASE


def test_the_erp_policy_is_read_and_reaches_the_flow(write: Callable[..., Path]) -> None:
    governance = load_governance(write({FLOW: BASE + '\nedit_quantities_until = "erp"'}))
    settings = OrderFulfilmentSettings.from_governance(governance)
    assert settings.edit_quantities_until is EditQuantitiesUntil.ERP
    [flow] = flows_from_governance(governance, availability=StaticAvailability())
    assert flow.settings.edit_quantities_until is EditQuantitiesUntil.ERP  # type: ignore[attr-defined]
    chosen = OrderFulfilmentSettings.from_governance(
        governance, edit_quantities_until=EditQuantitiesUntil.RELEASE
    )
    assert chosen.edit_quantities_until is EditQuantitiesUntil.RELEASE


def test_the_policy_survives_the_settings_json(write: Callable[..., Path]) -> None:
    governance = load_governance(write({FLOW: BASE + '\nedit_quantities_until = "erp"'}))
    settings = OrderFulfilmentSettings.from_governance(governance)
    data = settings.to_dict()
    assert data["edit_quantities_until"] == "erp"
    assert OrderFulfilmentSettings.from_dict(data) == settings
    del data["edit_quantities_until"]  # a history recorded before the key existed
    assert OrderFulfilmentSettings.from_dict(data).edit_quantities_until is (
        EditQuantitiesUntil.RELEASE
    )


def test_an_unknown_policy_is_refused_with_its_key(write: Callable[..., Path]) -> None:
    with pytest.raises(GovernanceError) as caught:
        load_governance(write({FLOW: BASE + '\nedit_quantities_until = "shipment"'}))
    assert "edit_quantities_until" in str(caught.value)
