"""Judges a run: every order in its expected state, in every system exactly once (or never).

The systems' records are read through the simulators' inspection endpoints
(``GET /_sandbox/effects``): NetSuite's ``salesOrder`` by external id (the hub's order id),
Salesforce's ``Order`` by ``Shopify_Order_Id__c``, ShipStation's ``order`` by ``orderKey``
(the hub's order id) and the EDI 3PL's ``940`` by depositor order number (the order number).
The flow states come from the hub's store. A failure lists every order that went wrong with
its kind, its state, what each system holds, and the dead letters of that order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .order_driver import PlacedOrder
from .order_kinds import CRM, ERP, WAREHOUSE, expected_outcome
from .order_rig import DeadCommand, HubDb, RigSimulators

__all__ = [
    "Problem",
    "RunReport",
    "judge",
]

_TIMEOUT = aiohttp.ClientTimeout(total=60)
_LEDGERS = {
    ERP: ("netsuite", "salesOrder"),
    CRM: ("salesforce", "Order.Shopify_Order_Id__c"),
    "shipstation": ("shipstation", "order"),
    "edi": ("edi3pl", "940"),
}


@dataclass
class Problem:
    """One order that went wrong.

    Attributes:
        order: The order.
        state: Its final flow state.
        wrong: What is wrong with it, one phrase each.
        only_state: True when only its state is wrong (every system holds what it must).
        financial_status: The financial status of the order as the flow holds it last.
        shipments: Tracking number to the shipment status the flow holds last.
        carrier: Tracking number to the carrier's (EasyPost simulator's) own last status.
        logged: Tracking number to the statuses the hub's log holds of it, in log order.
        dead: Its dead-lettered commands.
    """

    order: PlacedOrder
    state: str | None
    wrong: list[str]
    only_state: bool
    financial_status: str | None = None
    shipments: dict[str, str] = field(default_factory=dict)
    carrier: dict[str, str] = field(default_factory=dict)
    logged: dict[str, list[str]] = field(default_factory=dict)
    dead: list[DeadCommand] = field(default_factory=list)

    def line(self) -> str:
        """One line for the failure message."""
        order = self.order
        text = (
            f"order {order.n} {order.kind} {order.key} (shopify {order.shopify_id}): "
            + ", ".join(self.wrong)
        )
        if self.shipments:
            text += (
                f" | shipments (flow) {self.shipments}, carrier {self.carrier}, "
                f"logged {self.logged}"
            )
        if self.state in ("delivered", "invoiced"):
            text += f" | financial status (flow) {self.financial_status}"
        if self.dead:
            text += " | dead letters: " + "; ".join(
                f"{d.destination} {d.kind}: {d.reason[:160]}" for d in self.dead
            )
        return text


@dataclass
class RunReport:
    """What a run did, and what went wrong.

    Attributes:
        orders: The orders placed.
        states: Each order's final flow state (by hub id).
        problems: Every order that went wrong.
        strays: Records in a system that belong to no placed order, or duplicates.
        dead_letters: Every dead-lettered command.
        dead_inbox: Every dead or quarantined inbox row (source, reason).
        notes: Anything else the test wants shown with a failure (the seed, the settle result).
    """

    orders: list[PlacedOrder]
    states: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    dead_letters: list[DeadCommand] = field(default_factory=list)
    dead_inbox: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_kind(self) -> dict[str, Counter[str]]:
        """Final states counted per kind."""
        found: dict[str, Counter[str]] = {}
        for order in self.orders:
            found.setdefault(str(order.kind), Counter())[self.states.get(order.key, "none")] += 1
        return found

    def summary(self) -> str:
        """Kinds with their final states, one line each."""
        return "\n".join(
            f"  {kind:<24} {dict(states)}" for kind, states in sorted(self.by_kind().items())
        )

    def message(self, limit: int = 40) -> str:
        """The failure message: the problems first, then what may explain them."""
        lines = [*self.notes, f"{len(self.orders)} orders; final states by kind:", self.summary()]
        if self.problems:
            lines.append(f"{len(self.problems)} orders went wrong (first {limit}):")
            lines += [f"  {p.line()}" for p in self.problems[:limit]]
        if self.strays:
            lines.append(f"{len(self.strays)} records of no order, or twice (first {limit}):")
            lines += [f"  {s}" for s in self.strays[:limit]]
        reasons = Counter(f"{d.destination} {d.kind}: {d.reason[:200]}" for d in self.dead_letters)
        if reasons:
            lines.append("dead letters by reason:")
            lines += [f"  {n} x {reason}" for reason, n in reasons.most_common(15)]
        inbox = Counter(f"{source}: {reason[:200]}" for source, reason in self.dead_inbox)
        if inbox:
            lines.append("dead inbox rows by reason:")
            lines += [f"  {n} x {reason}" for reason, n in inbox.most_common(10)]
        return "\n".join(lines)

    def assert_ok(self) -> None:
        """Fail with `message` when a system holds a stray record or an order went wrong."""
        assert not self.strays, self.message()
        assert not self.problems, self.message()


async def _ledger(
    session: aiohttp.ClientSession, sims: RigSimulators, simulator: str, kind: str
) -> dict[str, Any]:
    url = f"{sims.admin(simulator)}/effects"
    async with session.get(url, params={"kind": kind}, timeout=_TIMEOUT) as response:
        assert response.status == 200, await response.text()
        body = await response.json(content_type=None)
    entries: dict[str, Any] = body["effects"].get(kind, {})
    return entries


async def _explain(
    problem: Problem, db: HubDb, sims: RigSimulators, session: aiohttp.ClientSession
) -> None:
    """Add what the flow holds of the order's payment and parcels, and what the carrier says."""
    state = db.flow_state(problem.order.key) or {}
    problem.financial_status = (state.get("order") or {}).get("financial_status")
    for number, shipment in (state.get("shipments") or {}).items():
        problem.shipments[number] = str(shipment.get("status"))
        problem.logged[number] = db.tracking_statuses(number)
        url = f"{sims.admin('easypost')}/easypost/trackers/{number}"
        async with session.get(url, timeout=_TIMEOUT) as response:
            body = await response.json(content_type=None) if response.status == 200 else {}
        trackers = body.get("trackers") or [{}]
        problem.carrier[number] = str((trackers[0].get("tracker") or {}).get("status"))


def _created(entries: Mapping[str, Any], keys: Iterable[str]) -> int:
    return sum(int(entries.get(key, {}).get("created", 0)) for key in keys)


async def judge(
    orders: Iterable[PlacedOrder],
    db: HubDb,
    sims: RigSimulators,
    session: aiohttp.ClientSession,
) -> RunReport:
    """Compare every order with `expected_outcome` of its kind (see the module docstring)."""
    placed = list(orders)
    ledgers = {
        name: await _ledger(session, sims, simulator, kind)
        for name, (simulator, kind) in _LEDGERS.items()
    }
    report = RunReport(placed, db.states())
    histories = db.histories()
    report.dead_letters = db.dead_commands()
    report.dead_inbox = db.dead_inbox()
    dead_by_order: dict[str, list[DeadCommand]] = {}
    for dead in report.dead_letters:
        if dead.order_key is not None:
            dead_by_order.setdefault(dead.order_key, []).append(dead)
    for order in placed:
        expected = expected_outcome(order.kind)
        state = report.states.get(order.key)
        held = {
            ERP: _created(ledgers[ERP], [order.key]),
            CRM: _created(ledgers[CRM], [str(order.shopify_id)]),
            WAREHOUSE: _created(ledgers["shipstation"], [order.key])
            + _created(ledgers["edi"], set(order.numbers)),
        }
        wrong = []
        if state not in expected.states:
            wrong.append(f"state {state}, expected {sorted(expected.states)}")
        missed = expected.passes - set(histories.get(order.key, []))
        if missed:
            wrong.append(f"never went through {sorted(missed)}")
        for system, count in held.items():
            want = 1 if system in expected.systems else 0
            if count != want:
                wrong.append(f"{system} holds {count} records, expected {want}")
        if wrong:
            only_state = len(wrong) == 1 and state not in expected.states
            problem = Problem(
                order, state, wrong, only_state, dead=dead_by_order.get(order.key, [])
            )
            await _explain(problem, db, sims, session)
            report.problems.append(problem)
    keys = {order.key for order in placed}
    ids = {str(order.shopify_id) for order in placed}
    numbers = {n for order in placed for n in order.numbers}
    for name, mine in ((ERP, keys), (CRM, ids), ("shipstation", keys), ("edi", numbers)):
        for key, entry in ledgers[name].items():
            if key not in mine and entry.get("created"):
                report.strays.append(f"{name} holds {key!r}, no order of this run")
            elif int(entry.get("created", 0)) > 1:
                report.strays.append(f"{name} created {key!r} {entry['created']} times")
    return report
