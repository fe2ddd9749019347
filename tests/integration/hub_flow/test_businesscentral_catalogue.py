"""Business Central performs the catalogue's kinds with canonical payloads (its simulator).

The connector is built the way the hub builds it (`crossdock.hub.outbound`), from a governance
table whose credentials are ``env:`` references.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.canonical import registry
from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.governance import parse_governance
from crossdock.hub.outbound import build_outbound, command_handler, system_roles
from crossdock.sandbox.kit import run_sandbox

ORDER_ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
EMAIL = "ada@example.com"


def _governance(entry: dict[str, Any]) -> str:
    creds = entry["credentials"]
    lines = [
        "[hub]",
        'name = "bc-catalogue-test"',
        "",
        "[systems.bc]",
        'kind = "businesscentral"',
        f'base_url = "{entry["base_url"]}"',
        f'settings.tenant = "{creds["tenant"]}"',
        f'settings.environment = "{creds["environment"]}"',
        f'settings.company_id = "{creds["company_id"]}"',
        f'settings.login_url = "{creds["token_url"]}"',
        'credentials.client_id = "env:BC_TEST_CLIENT_ID"',
        'credentials.client_secret = "env:BC_TEST_CLIENT_SECRET"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "bc"']
    return "\n".join(lines) + "\n"


@pytest.fixture
async def bc() -> AsyncIterator[Connector]:
    async with run_sandbox(["businesscentral"]) as sandbox:
        entry = sandbox.manifest["systems"]["businesscentral"]
        governance = parse_governance(_governance(entry))
        environ = {
            "BC_TEST_CLIENT_ID": entry["credentials"]["client_id"],
            "BC_TEST_CLIENT_SECRET": entry["credentials"]["client_secret"],
        }
        http = HttpClient(AiohttpTransport())
        try:
            yield build_outbound(governance, http, {}, environ=environ, required=["bc"])["bc"]
        finally:
            await http.aclose()


def _command(kind: str, payload: dict[str, Any], step: str) -> Command:
    return Command(idempotency_key=f"test:{step}", destination="bc", kind=kind, payload=payload)


def _order() -> dict[str, Any]:
    address = {
        "first_name": "Ada",
        "last_name": "Byron",
        "line1": "1 Main Street",
        "city": "Springfield",
        "region_code": "IL",
        "postal_code": "62701",
        "country_code": "US",
    }
    return {
        "schema_version": "order.v1",
        "id": ORDER_ID,
        "number": "#1001",
        "channel": "shopify:web",
        "customer": {"kind": "consumer", "email": EMAIL, "name": "Ada Byron"},
        "email": EMAIL,
        "currency": "USD",
        "placed_at": "2026-11-27T10:00:00+00:00",
        "shipping_address": address,
        "lines": [
            {
                "line_id": "1",
                "sku": "1896-S",
                "title": "ATHENS Desk",
                "quantity": 2,
                "unit_price": {"amount": "1000.80", "currency": "USD"},
            },
            {
                "line_id": "2",
                "sku": None,
                "title": "Engraving",
                "quantity": 1,
                "unit_price": {"amount": "5.00", "currency": "USD"},
            },
        ],
    }


async def test_catalogue_kinds_create_once_and_ship_cumulatively(bc: Connector) -> None:
    customer = {
        "id": "0193a1b2-0000-7000-8000-000000000001",
        "kind": "consumer",
        "email": EMAIL,
        "first_name": "Ada",
        "last_name": "Byron",
    }
    upsert = _command("customer.upsert", {"customer": customer}, "customer")
    first = await bc.perform(upsert)
    again = await bc.perform(upsert)
    assert first["created"] is True
    assert again["created"] is False
    assert again["number"] == first["number"]

    create = _command("sales_order.create", {"order": _order(), "order_id": ORDER_ID}, "so")
    created = await bc.perform(create)
    assert created["created"] is True
    assert (await bc.perform(create, attempt=2))["bc_order_id"] == created["bc_order_id"]

    shipment = {"order": {"id": ORDER_ID}, "lines": [{"sku": "1896-S", "quantity": 1}]}
    record = _command("fulfillment.record", {"shipment": shipment, "order_id": ORDER_ID}, "f1")
    posted = await bc.perform(record)
    assert posted["posted"] is True
    # With the cumulative quantities given, recording the same shipment again posts nothing.
    replay = _command(
        "fulfillment.record",
        {
            "shipment": shipment,
            "order_id": ORDER_ID,
            "shipped_to_date": [{"sku": "1896-S", "quantity_shipped": 1}],
        },
        "f1-replay",
    )
    assert (await bc.perform(replay))["posted"] is False


async def test_an_order_before_its_customer_is_retried_later(bc: Connector) -> None:
    from crossdock.connectorkit.errors import RetryLaterError

    create = _command("sales_order.create", {"order": _order(), "order_id": ORDER_ID}, "early")
    with pytest.raises(RetryLaterError, match="no customer"):
        await bc.perform(create)


async def test_the_hub_handler_appends_the_erp_result_event(bc: Connector) -> None:
    from datetime import UTC, datetime

    from crossdock.backbone.store import ClaimedCommand

    customer = {"id": "c-2", "kind": "consumer", "email": "grace@example.com", "last_name": "H"}
    payload = {"customer": customer, "instance": {"flow": "order_fulfilment", "key": "o-2"}}
    claim = ClaimedCommand(
        command_id=1,
        token=1,
        command=_command("customer.upsert", payload, "c2"),
        attempt=1,
        worker="test",
        lease_expires_at=datetime.now(UTC),
    )
    handler = command_handler(bc, frozenset({"erp"}))
    outcome = await handler(claim)
    assert outcome is not None
    [event] = outcome.events
    assert event.type == "erp.customer.upserted"
    assert event.subject == "o-2"
    assert event.data["result"]["number"] == outcome.result["number"]  # type: ignore[index]
    assert system_roles(parse_governance(_governance_stub())) == {}


def _governance_stub() -> str:
    lines = ["[hub]", 'name = "stub"', "", "[systems.bc]", 'kind = "businesscentral"']
    lines += ['base_url = "https://api.businesscentral.dynamics.com"']
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "bc"']
    return "\n".join(lines) + "\n"
