"""Every command the order flow wrote in the golden histories has the catalogue's payload shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossdock.canonical.commands import CATALOGUE, CommandSpec
from crossdock.flows.order_fulfilment import StaticAvailability
from crossdock.flows.registry import flows_from_governance
from crossdock.governance.loader import load_governance

from .conftest import FIXTURES

ROLES = {
    "netsuite": "erp",
    "salesforce": "crm",
    "shipstation": "warehouse",
    "edi_3pl": "warehouse",
    "easypost": "tracking",
    "shopify": "channel",
}


def _commands() -> list[dict[str, Any]]:
    found = []
    for golden in sorted(FIXTURES.glob("*.golden.json")):
        for step in json.loads(golden.read_text(encoding="utf-8"))["steps"]:
            for outcome in step["outcomes"]:
                found.extend(outcome["commands"])
    return found


def _spec(kind: str, destination: str) -> CommandSpec:
    [spec] = [s for s in CATALOGUE if s.kind == kind and s.role == ROLES[destination]]
    return spec


COMMANDS = _commands()


def test_the_goldens_cover_most_of_the_catalogue() -> None:
    used = {(c["kind"], ROLES[c["destination"]]) for c in COMMANDS}
    catalogued = {(s.kind, s.role) for s in CATALOGUE}
    assert used <= catalogued
    # Hold and unhold are the operators' (and later flows'); a channel cancel is not needed
    # while orders are cancelled in the channel itself; returns are the returns flow's.
    assert catalogued - used == {
        ("order.cancel", "channel"),
        ("order.hold", "warehouse"),
        ("order.unhold", "warehouse"),
        ("return.authorize", "erp"),
        ("return.credit", "erp"),
    }


@pytest.mark.parametrize(
    "command", COMMANDS, ids=lambda c: c["idempotency_key"].split(":", 2)[2][:40]
)
def test_payload_fields_are_the_catalogued_ones(command: dict[str, Any]) -> None:
    spec = _spec(command["kind"], command["destination"])
    required = {name for name in spec.payload if not name.endswith("?")}
    allowed = {name.rstrip("?") for name in spec.payload}
    fields = set(command["payload"])
    assert required <= fields, f"{command['kind']} lacks {required - fields}"
    assert fields <= allowed, f"{command['kind']} has uncatalogued {fields - allowed}"


def test_the_example_governance_file_enables_the_order_flow() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "crossdock.toml"
    [flow] = flows_from_governance(load_governance(example), availability=StaticAvailability())
    assert flow.name == "order_fulfilment"
    assert "order.placed" in flow.subscribes
