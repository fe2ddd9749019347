"""The 3PL simulator on its own: served loop, admin inspection, determinism, edge cases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import asyncssh
import httpx

from crossdock.connectors.edi import (
    DropFolderTransport,
    EdiConnector,
    InMemoryEdiLedger,
    MailboxLayout,
)
from crossdock.connectors.edi.maps import Address, OrderLine, ShippingAdvice, WarehouseShippingOrder
from crossdock.connectors.edi.transport.sftp import SftpSettings, SftpTransport
from crossdock.connectors.edi.x12 import AckStatus, GroupAck, InMemoryControlNumbers
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.edi3pl import Edi3plSimulator, generate_key
from crossdock.sandbox.kit import Scenario, serve

from .conftest import PARTNER, make_order

THREE_PL_SIDE = MailboxLayout().mirrored("3pl-archive", "3pl-error")


def _release(
    number: str, quantity: int, purpose: Literal["N", "R", "F"] = "N"
) -> WarehouseShippingOrder:
    return WarehouseShippingOrder(
        depositor_order_number=number,
        ship_to=Address("Jane Doe", lines=("1 Main St",), city="Reno", country="US"),
        lines=(OrderLine("1", "CAP-RED", Decimal(quantity)),),
        purpose=purpose,
    )


def _connector(root: Path, clock: ManualClock | None = None) -> EdiConnector:
    return EdiConnector(
        DropFolderTransport(root),
        partner=PARTNER,
        counters=InMemoryControlNumbers(),
        ledger=InMemoryEdiLedger(),
        clock=clock,
    )


async def test_served_simulator_runs_its_loop_and_reports_per_order(tmp_path: Path) -> None:
    root = tmp_path / "mailbox"
    scenario = Scenario(
        seed=11,
        data={
            "mailbox": str(root),
            "time_scale": 0.001,
            "pick_delay_s": 30,
            "forced_outcomes": {"SO-1": "full"},
        },
    )
    sim = Edi3plSimulator(scenario)
    connector = _connector(root)
    async with serve(sim.app) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        await connector.release([make_order("SO-1", [("1", "MUG-WHT", 3)])])
        shipped = False
        async with asyncio.timeout(30):
            while not shipped:
                result = await connector.poll()
                shipped = any(isinstance(s.value, ShippingAdvice) for s in result.sets)
                await asyncio.sleep(0.02)
        view = (await client.get("/_sandbox/edi3pl/orders/SO-1")).json()
        missing = await client.get("/_sandbox/edi3pl/orders/NOPE")
        stock = (await client.get("/_sandbox/edi3pl/stock")).json()["stock"]
        effects = (await client.get("/_sandbox/effects", params={"kind": "945"})).json()
        status = (await client.get("/_sandbox/edi3pl/status")).json()
    assert view["received_940s"] == 1
    assert view["status"] == "shipped"
    assert view["shipments"][0]["lines"] == [
        {"sku": "MUG-WHT", "line": "1", "ordered": 3, "shipped": 3}
    ]
    assert missing.status_code == 404
    assert stock["MUG-WHT"] == 22
    assert effects["effects"]["945"]["SO-1"]["created"] == 1
    assert status["loop_errors"] == []
    assert status["orders"] == {"shipped": 1}
    assert status["advices_sent"]


async def _run_once(root: Path, seed: int) -> tuple[list[str], dict[str, bytes]]:
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    sim = Edi3plSimulator(
        Scenario(seed=seed, data={"stock": {"CAP-RED": 500}, "pick_delay_s": 0}),
        transport=DropFolderTransport(root, THREE_PL_SIDE),
        clock=clock,
    )
    connector = _connector(root, clock)
    await connector.send_releases([_release(f"SO-{i}", 5 + i) for i in range(12)])
    for _ in range(3):
        await sim.step()
        clock.advance(1)
    outcomes = [sim.orders[f"SO-{i}"].outcome for i in range(12)]
    files = {p.name: p.read_bytes() for p in sorted((root / "inbound").iterdir())}
    return outcomes, files


async def test_same_seed_same_documents(tmp_path: Path) -> None:
    first = await _run_once(tmp_path / "first", seed=5)
    second = await _run_once(tmp_path / "second", seed=5)
    assert first == second
    assert set(first[0]) <= {"full", "partial", "short"}
    assert any(name.startswith("945-") for name in first[1])


async def test_bad_files_cancellations_and_stock_outs(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    root = tmp_path / "mailbox"
    theirs = DropFolderTransport(root, THREE_PL_SIDE)
    sim = Edi3plSimulator(
        Scenario(
            seed=1,
            data={
                "stock": {"CAP-RED": 4},
                "pick_delay_s": 60,
                "forced_outcomes": {"SO-A": "full", "SO-B": "full"},
            },
        ),
        transport=theirs,
        clock=clock,
    )
    connector = _connector(root, clock)
    ours = connector.transport
    await ours.put_outbound("junk.x12", b"this is no interchange")
    await connector.send_releases([_release("SO-A", 2), _release("SO-B", 9)])
    await connector.send_releases([_release("SO-A", 2, purpose="F")])
    await sim.step()
    clock.advance(60)
    await sim.step()

    assert sim.rejected_files == ["junk.x12"]
    kept = [p.name for p in (root / "3pl-error").iterdir()]
    assert len(kept) == 2  # the file and its reason
    cancelled = sim.order_view("SO-A")
    assert cancelled is not None
    assert (cancelled["status"], cancelled["shipments"]) == ("cancelled", [])
    short = sim.order_view("SO-B")
    assert short is not None
    [shipment] = short["shipments"]
    assert shipment["lines"] == [{"sku": "CAP-RED", "line": "1", "ordered": 9, "shipped": 4}]
    assert sim.stock["CAP-RED"] == 0


async def test_served_simulator_offers_its_mailbox_over_sftp(tmp_path: Path) -> None:
    user_key = generate_key()
    public = user_key.export_public_key().decode("ascii")
    scenario = Scenario(
        seed=2,
        data={
            "mailbox": str(tmp_path / "mailbox"),
            "sftp": {"username": "crossdock", "authorized_keys": [public]},
            "time_scale": 0.001,
            "pick_delay_s": 30,
        },
    )
    sim = Edi3plSimulator(scenario)
    async with serve(sim.app) as server:
        entry = sim.manifest_entry(server.base_url)["credentials"]["sftp"]
        settings = SftpSettings(
            host=entry["host"],
            port=entry["port"],
            username=entry["username"],
            client_keys=[user_key],
            host_keys=[asyncssh.import_public_key(entry["host_key"])],
        )
        async with SftpTransport(settings) as transport:
            connector = EdiConnector(
                transport,
                partner=PARTNER,
                counters=InMemoryControlNumbers(),
                ledger=InMemoryEdiLedger(),
            )
            sent = await connector.release([make_order("SO-S", [("1", "CAP-RED", 1)])])
            acks: list[GroupAck] = []
            async with asyncio.timeout(30):
                while not acks:
                    acks.extend((await connector.poll()).acknowledgments)
                    await asyncio.sleep(0.02)
    assert [(a.group_control, a.status) for a in acks] == [(sent.group_control, AckStatus.ACCEPTED)]
    assert sim.sftp is None  # stopped with the server
