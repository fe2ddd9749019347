"""The declared order machine and the command catalogue: drawable, consistent, wired up."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crossdock.canonical.commands import (
    CATALOGUE,
    COMMAND_FAILED,
    render_markdown,
    result_event,
    result_event_types,
    spec_for,
)
from crossdock.connectors.businesscentral.connector import BusinessCentralConnector
from crossdock.connectors.easypost import TRACK_COMMAND, EasyPostConnector
from crossdock.connectors.netsuite.connector import NetSuiteConnector
from crossdock.connectors.salesforce.connector import SalesforceConnector
from crossdock.connectors.shipstation.connector import ShipStationConnector
from crossdock.connectors.shopify.connector import ShopifyConnector
from crossdock.flows.machine import State, StateMachine, Transition, UndeclaredTransition
from crossdock.flows.order_fulfilment import MACHINE, OrderFulfilment
from crossdock.flows.order_fulfilment.decide import RESULT_EVENTS

MAIN_PATH = [
    "received",
    "validated",
    "erp_order_created",
    "crm_told",
    "released_to_warehouse",
    "partially_shipped",
    "shipped",
    "delivered",
    "invoiced",
    "closed",
]
EXCEPTIONS = {
    "backorder",
    "payment_failed",
    "fraud_hold",
    "invalid_address",
    "cancelled",
    "cancelled_after_release",
    "quarantined",
    "payment_held",
}


def test_the_main_path_is_declared_step_by_step() -> None:
    for source, target in itertools.pairwise(MAIN_PATH):
        assert MACHINE.allows(source, target), f"{source} -> {target}"


def test_every_exception_state_is_declared_and_reachable() -> None:
    assert MACHINE.state_names >= EXCEPTIONS
    targets = {t.target for t in MACHINE.transitions}
    assert MACHINE.state_names - {MACHINE.initial} <= targets


def test_only_final_states_have_no_way_out() -> None:
    sources = {t.source for t in MACHINE.transitions}
    dead_ends = {s.name for s in MACHINE.states if s.name not in sources}
    assert dead_ends == {s.name for s in MACHINE.states if s.kind == "final"}


def test_undeclared_moves_are_refused() -> None:
    with pytest.raises(UndeclaredTransition):
        MACHINE.check("closed", "received")
    with pytest.raises(UndeclaredTransition):
        MACHINE.check("shipped", "cancelled")


def test_the_machine_exports_for_the_console() -> None:
    data = MACHINE.to_dict()
    assert data["initial"] == "received"
    assert {s["name"] for s in data["states"]} == MACHINE.state_names
    mermaid = MACHINE.to_mermaid()
    assert mermaid.startswith("stateDiagram-v2\n    [*] --> received\n")
    assert "released_to_warehouse --> partially_shipped: shipment.created|updated" in mermaid
    assert "closed --> [*]" in mermaid
    assert "class quarantined exception" in mermaid


def test_a_machine_naming_an_undeclared_state_is_refused() -> None:
    with pytest.raises(ValueError, match="undeclared state"):
        StateMachine("m", "a", (State("a", "A"),), (Transition("a", "b", "x"),))


def test_catalogue_kinds_are_the_ones_the_connectors_handle() -> None:
    handled = {
        "channel": set(ShopifyConnector.handlers),
        "warehouse": set(ShipStationConnector.handlers),
        "tracking": set(EasyPostConnector.handlers),
        "crm": set(SalesforceConnector.handlers),
        "erp": set(NetSuiteConnector.handlers),
    }
    for role, kinds in handled.items():
        catalogued = {s.kind for s in CATALOGUE if s.role == role}
        assert catalogued <= kinds, (role, catalogued - kinds)
    erp_kinds = {s.kind for s in CATALOGUE if s.role == "erp"}
    assert erp_kinds <= set(BusinessCentralConnector.handlers), erp_kinds - set(
        BusinessCentralConnector.handlers
    )
    assert spec_for("shipment.track").kind == TRACK_COMMAND


def test_a_shared_kind_needs_its_role() -> None:
    with pytest.raises(KeyError, match="several roles"):
        spec_for("order.cancel")
    assert spec_for("order.cancel", "warehouse").result_event == "warehouse.order.cancelled"
    with pytest.raises(KeyError, match="unknown command kind"):
        spec_for("erp.teleport")


def test_result_events_are_deterministic_and_name_the_instance() -> None:
    args = {
        "kind": "sales_order.create",
        "role": "erp",
        "destination": "netsuite",
        "idempotency_key": "order_fulfilment:k1:sales_order.create",
        "payload": {"instance": {"flow": "order_fulfilment", "key": "k1"}},
        "result": {"id": "9001"},
        "correlation_id": "c1",
    }
    first, second = result_event(**args), result_event(**args)  # type: ignore[arg-type]
    assert first.id == second.id
    assert first.type == "erp.sales_order.created"
    assert first.subject == "k1"
    assert first.data["result"] == {"id": "9001"}


def test_the_flow_subscribes_to_every_result_it_acts_on() -> None:
    assert result_event_types() >= RESULT_EVENTS
    assert COMMAND_FAILED in OrderFulfilment.subscribes


def test_the_catalogue_renders_as_markdown() -> None:
    page = render_markdown()
    assert "| `sales_order.create` | erp |" in page
    assert page.count("\n| `") == len(CATALOGUE)


def test_docs_commands_md_is_current() -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "commands.md"
    assert page.read_text(encoding="utf-8") == render_markdown(), (
        "docs/commands.md is stale: regenerate it with "
        "python -c 'from crossdock.canonical.commands import render_markdown; "
        'print(render_markdown(), end="")\' > docs/commands.md'
    )
