"""Which ERP the hub polls, and how often, from the governance file."""

from __future__ import annotations

import pytest

from crossdock.canonical import registry
from crossdock.governance import parse_governance
from crossdock.hub.erp_polling import DEFAULT_POLL_INTERVAL_S, erp_of, poll_interval


def _governance(netsuite_settings: str, flows: str) -> str:
    lines = [
        "[hub]",
        'name = "t"',
        "",
        "[systems.netsuite]",
        'kind = "netsuite"',
        'base_url = "https://1234567.suitetalk.api.netsuite.com/services/rest"',
        'settings.account_id = "1234567"',
        netsuite_settings,
        "",
        "[systems.businesscentral]",
        'kind = "businesscentral"',
        'base_url = "https://api.businesscentral.dynamics.com"',
        "",
        "[systems.shopify]",
        'kind = "shopify"',
        'base_url = "https://shop.myshopify.com"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "netsuite"']
    return "\n".join([*lines, "", flows, ""])


def test_the_inventory_flows_erp_is_polled_while_the_flow_is_enabled() -> None:
    inventory = '[flows.inventory]\nerp = "businesscentral"\npublish_to = ["shopify"]'
    assert erp_of(parse_governance(_governance("", inventory))) == "businesscentral"
    assert (
        erp_of(
            parse_governance(
                _governance("", '[flows.inventory]\nerp = "netsuite"\nenabled = false')
            )
        )
        is None
    )


def test_the_poll_interval_comes_from_the_erps_settings() -> None:
    flows = '[flows.inventory]\nerp = "netsuite"'
    assert poll_interval(parse_governance(_governance("", flows)), "netsuite") == (
        DEFAULT_POLL_INTERVAL_S
    )
    fast = parse_governance(_governance("settings.poll_interval_s = 0.1", flows))
    assert poll_interval(fast, "netsuite") == 0.1
    for bad in ('"soon"', "0", "-1"):
        broken = parse_governance(_governance(f"settings.poll_interval_s = {bad}", flows))
        with pytest.raises(ValueError, match="poll_interval_s"):
            poll_interval(broken, "netsuite")
