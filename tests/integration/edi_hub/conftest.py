"""The EDI 3PL wired into the hub's pieces: real SQLite store, real drop folders, the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command
from crossdock.canonical.address import Address
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.edi import (
    DropFolderTransport,
    EdiConnector,
    EdiPartner,
    JsonControlNumbers,
    JsonEdiLedger,
    MailboxLayout,
)
from crossdock.connectors.edi.hub_adapter import EdiHubConnector
from crossdock.connectors.edi.x12 import Party
from crossdock.hub.decoder import DecodeWorker
from crossdock.hub.edi import EdiPoller
from crossdock.hub.inbound import ConnectorInbound
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool
from crossdock.sandbox.edi3pl import Edi3plSimulator
from crossdock.sandbox.kit import Scenario

SYSTEM = "edi_3pl"
PARTNER = EdiPartner(
    us=Party("ZZ", "CROSSDOCK"), partner=Party("ZZ", "ACME3PL"), location="acme-reno", source=SYSTEM
)
THREE_PL_SIDE = MailboxLayout().mirrored("3pl-archive", "3pl-error")
STOCK = {"TSHIRT-BLK-M": 40, "MUG-WHT": 25, "CAP-RED": 10}


def make_order(number: str, lines: list[tuple[str, str, int]]) -> Order:
    """A canonical order with a shipping address and ``(line_id, sku, quantity)`` lines."""
    eur = "EUR"
    return Order.model_validate(
        {
            "number": number,
            "channel": "shopify:web",
            "currency": eur,
            "shipping_address": Address(
                first_name="Zoë",
                last_name="Ørsted",
                line1="Große Straße 5",
                city="Köln",
                region_code="NW",
                postal_code="50667",
                country_code="DE",
            ),
            "lines": [
                OrderLine(
                    line_id=line_id, sku=sku, title=sku, quantity=q, unit_price=Money("10.00", eur)
                )
                for line_id, sku, q in lines
            ],
            "totals": OrderTotals(total=Money(f"{10 * sum(q for _, _, q in lines)}.00", eur)),
            "status": "open",
            "placed_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        }
    )


def release_command(order: Order, key: str | None = None) -> Command:
    """The canonical ``order.release`` command for the EDI system."""
    return Command(
        idempotency_key=key or f"release:{order.number}",
        destination=SYSTEM,
        kind="order.release",
        payload={"order": order.model_dump(mode="json"), "order_key": order.number},
    )


class CrashOnceLedger(JsonEdiLedger):
    """A ledger whose next `mark_processed` dies, as a process killed right before it would."""

    crash_next = False

    def mark_processed(self, keys: Iterable[str], source: str) -> None:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("killed before the ledger was written")
        super().mark_processed(keys, source)


@dataclass
class Rig:
    """Every part, as the hub wires them, around one mailbox."""

    tmp: Path
    root: Path
    clock: ManualClock
    store: SQLiteStore
    sim: Edi3plSimulator
    edi: EdiConnector
    ledger: CrashOnceLedger
    connector: EdiHubConnector
    poller: EdiPoller
    decoder: DecodeWorker

    @property
    def outbound(self) -> Path:
        return self.root / "outbound"

    def files(self, prefix: str) -> list[Path]:
        """Our files of one set id still waiting for the 3PL, or already taken by it."""
        found = list(self.outbound.glob(f"{prefix}-*.x12"))
        found += list((self.root / "3pl-archive").glob(f"*{prefix}-*.x12"))
        return sorted(found)

    async def _perform(self, claim: ClaimedCommand) -> HandlerResult:
        result = await self.connector.perform(claim.command, attempt=claim.attempt)
        return HandlerResult(result=result)

    async def drain_queue(self) -> None:
        """Run the worker pool until no command of the system is left (as the hub would)."""
        config = WorkerConfig(
            concurrency=2,
            lease_seconds=5.0,
            stop_when_empty=True,
            depth_every=None,
            idle_max_seconds=0.05,
        )
        pool = WorkerPool(self.store, {SYSTEM: self._perform}, config)
        await asyncio.wait_for(pool.run(), timeout=30)


def scenario(**overrides: object) -> Scenario:
    """The 3PL: fixed stock, forced outcomes, one pick a minute after the 940."""
    data: dict[str, object] = {
        "stock": dict(STOCK),
        "forced_outcomes": {"SO-1": "full"},
        "pick_delay_s": 60,
        "advice_interval_s": 3600,
    }
    data.update(overrides)
    return Scenario(seed=11, data=data, name="edi-hub")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    root = tmp_path / "mailbox"
    sim = Edi3plSimulator(
        scenario(), transport=DropFolderTransport(root, THREE_PL_SIDE), clock=clock
    )
    ledger = CrashOnceLedger(tmp_path / "state" / "ledger.json")
    edi = EdiConnector(
        DropFolderTransport(root),
        partner=PARTNER,
        counters=JsonControlNumbers(tmp_path / "state" / "control.json"),
        ledger=ledger,
        clock=clock,
    )
    http = HttpClient(AiohttpTransport())
    connector = EdiHubConnector(http=http, edi=edi, destination=SYSTEM)
    inbound = ConnectorInbound(
        name=SYSTEM, connector=connector, dedupe=lambda h, _b: h.get("x-edi-set-key")
    )
    store = SQLiteStore(tmp_path / "hub.db")
    await store.start()
    poller = EdiPoller(store, SYSTEM, edi, ack_overdue=timedelta(hours=4))
    decoder = DecodeWorker(store, {SYSTEM: inbound})
    try:
        yield Rig(tmp_path, root, clock, store, sim, edi, ledger, connector, poller, decoder)
    finally:
        await store.close()
        await http.transport.aclose()
