"""The EDI connector against the 3PL simulator: 940s out, 997s, 945s and 846s back."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from crossdock.canonical.order import Order
from crossdock.connectors.edi import (
    DropFolderTransport,
    EdiConnector,
    JsonControlNumbers,
    JsonEdiLedger,
    MailboxLayout,
    PollResult,
)
from crossdock.connectors.edi.maps import ShippingAdvice
from crossdock.connectors.edi.transport.sftp import SftpSettings, SftpTransport
from crossdock.connectors.edi.x12 import AckStatus
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.edi3pl import Edi3plSimulator, generate_key, serve_sftp
from crossdock.sandbox.kit import Scenario

from .conftest import PARTNER, make_order

STOCK = {"TSHIRT-BLK-M": 40, "MUG-WHT": 25, "CAP-RED": 10}
THREE_PL_SIDE = MailboxLayout().mirrored("3pl-archive", "3pl-error")


def _scenario(**overrides: object) -> Scenario:
    data: dict[str, object] = {
        "stock": dict(STOCK),
        "forced_outcomes": {"SO-1": "full", "SO-2": "short", "SO-3": "partial"},
        "pick_delay_s": 60,
        "advice_interval_s": 3600,
        "poll_interval_s": 10,
    }
    data.update(overrides)
    return Scenario(seed=42, data=data, name="e2e")


def _orders() -> list[Order]:
    return [
        make_order("SO-1", [("1", "TSHIRT-BLK-M", 2), ("2", "MUG-WHT", 1)]),
        make_order("SO-2", [("1", "MUG-WHT", 1), ("2", "CAP-RED", 4)], name="Åsa Ñúñez"),
        make_order("SO-3", [("1", "TSHIRT-BLK-M", 6)]),
    ]


def _merge(results: list[PollResult]) -> PollResult:
    return PollResult(
        files=tuple(f for r in results for f in r.files),
        sets=tuple(s for r in results for s in r.sets),
        duplicates=tuple(d for r in results for d in r.duplicates),
        acknowledgments=tuple(a for r in results for a in r.acknowledgments),
        acks_sent=tuple(a for r in results for a in r.acks_sent),
        failures=tuple(f for r in results for f in r.failures),
    )


async def test_orders_go_out_and_shipments_and_stock_come_back(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    root = tmp_path / "mailbox"
    sim = Edi3plSimulator(
        _scenario(), transport=DropFolderTransport(root, THREE_PL_SIDE), clock=clock
    )
    connector = EdiConnector(
        DropFolderTransport(root),
        partner=PARTNER,
        counters=JsonControlNumbers(tmp_path / "control.json"),
        ledger=JsonEdiLedger(tmp_path / "ledger.json"),
        clock=clock,
    )

    sent = await connector.release(_orders())
    on_disk = (root / "outbound" / sent.file_name).read_bytes()
    assert on_disk.isascii()
    assert b"N1*ST*ZOE ORSTED" in on_disk
    assert b"N1*ST*ASA NUNEZ" in on_disk
    assert b"N4*KOLN*NW*50667*DE" in on_disk

    await sim.step()  # reads the 940s, answers with a 997, sends the first 846
    clock.advance(60)
    await sim.step()  # picks: SO-1 complete, SO-2 short, SO-3 first half
    clock.advance(60)
    await sim.step()  # SO-3 second half
    result = await connector.poll()

    assert result.failures == ()
    [ack] = result.acknowledgments
    assert ack.status is AckStatus.ACCEPTED
    assert ack.group_control == sent.group_control
    assert [s.status for s in ack.sets] == [AckStatus.ACCEPTED] * 3
    assert len(result.acks_sent) == len(result.files) - 1  # every file but the 997 is acked

    shipped: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    trackings: dict[str, list[str]] = defaultdict(list)
    for shipment in result.shipments:
        number = shipment.order.number
        assert number is not None
        assert shipment.location == "acme-reno"
        assert shipment.carrier in ("UPS", "FedEx")
        assert shipment.tracking_number
        assert shipment.shipped_at is not None
        trackings[number].append(shipment.tracking_number)
        for line in shipment.lines:
            assert line.sku is not None
            shipped[number][line.sku] += line.quantity
    assert shipped["SO-1"] == {"TSHIRT-BLK-M": 2, "MUG-WHT": 1}
    assert shipped["SO-2"]["MUG-WHT"] == 1
    assert shipped["SO-2"].get("CAP-RED", 0) < 4  # the short pick
    assert shipped["SO-3"] == {"TSHIRT-BLK-M": 6}
    assert len(trackings["SO-3"]) == 2  # a partial: two shipments
    assert len(set(trackings["SO-3"])) == 2

    advices = [s.value for s in result.sets if isinstance(s.value, ShippingAdvice)]
    short = [a for a in advices if a.depositor_order_number == "SO-2"]
    assert [line.sku for a in short for line in a.short_lines] == ["CAP-RED"]

    levels = {level.sku: level for level in result.levels}
    assert {sku: level.available for sku, level in levels.items()} == STOCK  # before shipping
    assert all(level.source == "edi:acme" for level in levels.values())

    # The simulator's own account, per depositor order number.
    for number, expected_945s in (("SO-1", 1), ("SO-2", 1), ("SO-3", 2)):
        view = sim.order_view(number)
        assert view is not None
        assert view["received_940s"] == 1
        assert view["duplicates_absorbed"] == 0
        assert len(view["shipments"]) == expected_945s
        assert view["status"] == "shipped"
    assert sim.stock["TSHIRT-BLK-M"] == STOCK["TSHIRT-BLK-M"] - 8

    # Our 997s reached the 3PL and matched its sends: its next step reads them.
    await sim.step()
    assert len(sim.acks_received) == len(result.acks_sent)

    # The next 846, an hour later, reports the stock after shipping.
    clock.advance(3600)
    await sim.step()
    later = await connector.poll()
    assert {lv.sku: lv.available for lv in later.levels} == sim.stock
    assert later.failures == ()


async def test_resends_are_absorbed_on_both_sides(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    root = tmp_path / "mailbox"
    theirs = DropFolderTransport(root, THREE_PL_SIDE)
    sim = Edi3plSimulator(_scenario(), transport=theirs, clock=clock)
    ours = DropFolderTransport(root)
    connector = EdiConnector(
        ours,
        partner=PARTNER,
        counters=JsonControlNumbers(tmp_path / "control.json"),
        ledger=JsonEdiLedger(tmp_path / "ledger.json"),
        clock=clock,
    )
    sent = await connector.release([_orders()[0]])
    data = (root / "outbound" / sent.file_name).read_bytes()
    await sim.step()
    # We resend the same interchange (same ISA13): the 3PL recognises it.
    await ours.put_outbound(sent.file_name, data)
    clock.advance(60)
    await sim.step()
    view = sim.order_view("SO-1")
    assert view is not None
    assert (view["received_940s"], view["duplicates_absorbed"], len(view["shipments"])) == (2, 1, 1)
    effects = sim.effects.get("940", "SO-1")
    assert effects is not None
    assert (effects.created, effects.duplicates_absorbed) == (1, 1)

    first = await connector.poll()
    [advice] = [s for s in first.sets if s.set_id == "945"]
    # The 3PL resends its 945 file: the connector recognises the keys and emits nothing new.
    archived = next((root / "archive").glob(f"*-{advice.file_name}"))
    await theirs.put_outbound(advice.file_name, archived.read_bytes())
    second = await connector.poll()
    assert second.sets == ()
    assert second.duplicates == (advice.key,)
    assert second.failures == ()


async def test_running_loop_over_sftp(tmp_path: Path) -> None:
    """The simulator's own loop and a real SFTP session, as `sandbox up` would run them."""
    root = tmp_path / "mailbox"
    sim = Edi3plSimulator(
        _scenario(time_scale=0.001), transport=DropFolderTransport(root, THREE_PL_SIDE)
    )
    user_key = generate_key()
    async with serve_sftp(root, username="crossdock", client_keys=[user_key]) as server:
        settings = SftpSettings(
            host=server.host,
            port=server.port,
            username="crossdock",
            client_keys=[user_key],
            host_keys=[server.host_key],
        )
        async with SftpTransport(settings) as transport:
            connector = EdiConnector(
                transport,
                partner=PARTNER,
                counters=JsonControlNumbers(tmp_path / "control.json"),
                ledger=JsonEdiLedger(tmp_path / "ledger.json"),
            )
            sim.start()
            try:
                await connector.release(_orders())
                results: list[PollResult] = []
                finals: set[str] = set()
                async with asyncio.timeout(60):
                    while finals != {"SO-1", "SO-2", "SO-3"}:
                        results.append(await connector.poll())
                        finals |= {
                            s.value.depositor_order_number
                            for s in results[-1].sets
                            if isinstance(s.value, ShippingAdvice) and s.value.status == "F"
                        }
                        await asyncio.sleep(0.02)
            finally:
                await sim.stop()
    merged = _merge(results)
    assert merged.failures == ()
    assert [a.status for a in merged.acknowledgments] == [AckStatus.ACCEPTED]
    assert {s.order.number for s in merged.shipments} == {"SO-1", "SO-2", "SO-3"}
    assert merged.levels  # at least the first 846
