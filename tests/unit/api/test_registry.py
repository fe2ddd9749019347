"""Building the inbound side of each configured system from the governance file."""

from __future__ import annotations

import pytest

from crossdock.canonical import registry
from crossdock.connectorkit import sign_hmac
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.easypost import sign as easypost_sign
from crossdock.governance import Governance, parse_governance
from crossdock.hub import HubConfigError, build_inbound

SYSTEMS = """
[systems.shop]
kind = "shopify"
base_url = "https://acme.myshopify.com"
credentials.webhook_secret = "env:T_SHOP_SECRET"
credentials.webhook_secret_previous = "env:T_SHOP_SECRET_OLD"

[systems.tracking]
kind = "easypost"
base_url = "https://api.easypost.com"
credentials.webhook_secret = "env:T_EP_SECRET"
credentials.api_key = "env:T_EP_KEY"

[systems.wms]
kind = "shipstation"
base_url = "https://ssapi.shipstation.com"
credentials.hook_token = "env:T_SS_HOOK"
credentials.api_key = "env:T_SS_KEY"
credentials.api_secret = "env:T_SS_SECRET"

[systems.erp]
kind = "netsuite"
base_url = "https://1234567.suitetalk.api.netsuite.com"

[systems.old_shop]
kind = "shopify"
active = false
base_url = "https://old.myshopify.com"
"""

ENVIRON = {
    "T_SHOP_SECRET": "new-secret",
    "T_SHOP_SECRET_OLD": "old-secret",
    "T_EP_SECRET": "ep-secret",
    "T_EP_KEY": "ep-key",
    "T_SS_HOOK": "hook-token-0123456789",
    "T_SS_KEY": "ss-key",
    "T_SS_SECRET": "ss-secret",
}


def _governance(systems: str = SYSTEMS) -> Governance:
    ownership = "".join(
        f'\n[ownership.{entity}]\ndefault_owner = "erp"\n' for entity in registry.ENTITY_NAMES
    )
    return parse_governance(systems + ownership)


async def test_active_systems_with_an_inbound_connector_are_built(http: HttpClient) -> None:
    built = build_inbound(_governance(), http, environ=ENVIRON)
    # NetSuite sends no webhooks; old_shop is inactive.
    assert sorted(built) == ["shop", "tracking", "wms"]
    assert await built["wms"].verify({}, b"{}", "hook-token-0123456789")
    assert not await built["wms"].verify({}, b"{}", "a-guessed-token")
    body = b'{"id": 1}'
    for secret in ("new-secret", "old-secret"):  # both secrets count during a rotation
        headers = {"X-Shopify-Hmac-Sha256": sign_hmac(body, secret), "X-Shopify-Event-Id": "e1"}
        assert await built["shop"].verify(headers, body, None)
    assert built["shop"].dedupe_key({"X-Shopify-Event-Id": "e1", "X-Shopify-Topic": "t"}, body)
    event = b'{"id": "evt_123", "object": "Event", "description": "tracker.updated"}'
    ep_headers = {"X-Hmac-Signature": easypost_sign(event, "ep-secret")}
    assert await built["tracking"].verify(ep_headers, event, None)
    assert built["tracking"].dedupe_key(ep_headers, event) == "evt_123"


def test_every_missing_credential_is_named(http: HttpClient) -> None:
    with pytest.raises(HubConfigError) as caught:
        build_inbound(_governance(), http, environ={"T_EP_KEY": "k"})
    text = "\n".join(caught.value.problems)
    assert "T_SHOP_SECRET" in text
    assert "T_EP_SECRET" in text
    assert "T_SS_HOOK" in text


def test_a_receiving_system_without_a_webhook_secret_is_refused(http: HttpClient) -> None:
    systems = '[systems.shop]\nkind = "shopify"\nbase_url = "https://acme.myshopify.com"\n'
    systems += (
        '[systems.erp]\nkind = "netsuite"\nbase_url = "https://1.suitetalk.api.netsuite.com"\n'
    )
    with pytest.raises(HubConfigError, match=r"systems\.shop\.credentials\.webhook_secret"):
        build_inbound(_governance(systems), http, environ={})
