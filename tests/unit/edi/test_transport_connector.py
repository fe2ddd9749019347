"""The EDI connector over a drop folder: idempotency, rejections, quarantine, persisted state."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crossdock.connectors.edi import (
    DropFolderTransport,
    EdiConnector,
    EdiPartner,
    FailureKind,
    InboundSet,
    JsonControlNumbers,
    JsonEdiLedger,
    MailboxLayout,
)
from crossdock.connectors.edi.maps import Address, OrderLine, WarehouseShippingOrder
from crossdock.connectors.edi.transport.folder import write_atomically
from crossdock.connectors.edi.x12 import (
    AckStatus,
    InMemoryControlNumbers,
    Party,
    Segment,
    SetBody,
    build_interchange,
    write_x12,
)
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.edi3pl import Edi3plSimulator
from crossdock.sandbox.kit import Scenario

US = Party("ZZ", "CROSSDOCK")
THEM = Party("ZZ", "ACME3PL")
PARTNER = EdiPartner(us=US, partner=THEM, location="acme-reno")
THREE_PL_SIDE = MailboxLayout().mirrored("3pl-archive", "3pl-error")


def _release(number: str, uom: str = "EA", quantity: str = "2") -> WarehouseShippingOrder:
    return WarehouseShippingOrder(
        depositor_order_number=number,
        ship_to=Address("Zoë Ørsted", lines=("Große Straße 5",), city="Köln", country="DE"),
        lines=(OrderLine("1", "MUG-WHT", Decimal(quantity), uom=uom),),
    )


def _connector(tmp_path: Path, clock: ManualClock) -> EdiConnector:
    return EdiConnector(
        DropFolderTransport(tmp_path / "mailbox"),
        partner=PARTNER,
        counters=JsonControlNumbers(tmp_path / "control.json"),
        ledger=JsonEdiLedger(tmp_path / "ledger.json"),
        clock=clock,
    )


def _sim(tmp_path: Path, clock: ManualClock) -> Edi3plSimulator:
    scenario = Scenario(seed=3, data={"stock": {"MUG-WHT": 10}, "pick_delay_s": 0})
    transport = DropFolderTransport(tmp_path / "mailbox", THREE_PL_SIDE)
    return Edi3plSimulator(scenario, transport=transport, clock=clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


async def test_a_997_rejection_is_a_visible_replayable_failure(
    tmp_path: Path, clock: ManualClock
) -> None:
    connector = _connector(tmp_path, clock)
    sim = _sim(tmp_path, clock)
    sent = await connector.send_releases([_release("SO-7"), _release("SO-8", uom="EACH")])
    await sim.step()
    result = await connector.poll()

    [ack] = result.acknowledgments
    assert ack.status is AckStatus.PARTIALLY_ACCEPTED
    [failure] = [f for f in result.failures if f.kind is FailureKind.REJECTED_BY_PARTNER]
    bad_control = sent.sets[1][0]
    assert failure.order_number == "SO-8"
    assert failure.replay_key == f"OW:{sent.group_control}:{bad_control}"
    assert failure.file_name == sent.file_name
    assert "rejected" in failure.reason
    assert "W01" in failure.reason
    assert "'EACH'" in failure.reason
    view = sim.order_view("SO-8")
    assert view is not None
    assert view["status"] == "rejected"
    assert sim.order_view("SO-7") is not None

    replayed = await connector.replay(failure.replay_key)
    assert replayed.interchange_control != sent.interchange_control
    assert replayed.sets[0][1] == "SO-8"
    assert [r.status for r in connector.ledger.sent()] == ["replayed", "sent"]
    assert JsonEdiLedger(tmp_path / "ledger.json").sent() == connector.ledger.sent()
    with pytest.raises(KeyError):
        await connector.replay("OW:999999:0001")


async def test_a_resent_interchange_is_not_processed_twice_even_after_a_restart(
    tmp_path: Path, clock: ManualClock
) -> None:
    sim = _sim(tmp_path, clock)
    await _connector(tmp_path, clock).send_releases([_release("SO-9")])
    await sim.step()
    first = await _connector(tmp_path, clock).poll()
    [advice] = [s for s in first.sets if s.set_id == "945"]
    assert [s.order.number for s in advice.shipments] == ["SO-9"]

    # The 3PL resends the same 945 interchange (same ISA13); a fresh connector on the same
    # ledger file recognises it.
    archived = next((tmp_path / "mailbox" / "archive").glob(f"*-{advice.file_name}"))
    write_atomically(tmp_path / "mailbox" / "inbound", "resend.x12", archived.read_bytes())
    second = await _connector(tmp_path, clock).poll()
    assert second.sets == ()
    assert second.duplicates == (advice.key,)
    assert second.acks_sent  # the resend is still acknowledged
    assert second.files == ("resend.x12",)


async def test_a_malformed_file_is_kept_with_its_reason(tmp_path: Path, clock: ManualClock) -> None:
    connector = _connector(tmp_path, clock)
    write_atomically(tmp_path / "mailbox" / "inbound", "garbage.x12", b"HELLO this is not X12")
    result = await connector.poll()
    [failure] = result.failures
    assert failure.kind is FailureKind.MALFORMED_FILE
    assert failure.file_name == "garbage.x12"
    kept = tmp_path / "mailbox" / failure.replay_key
    assert kept.read_bytes() == b"HELLO this is not X12"
    assert "ISA" in kept.with_name(f"{kept.name}.reason.txt").read_text()
    assert list((tmp_path / "mailbox" / "inbound").iterdir()) == []


async def test_a_set_we_reject_is_reported_and_acknowledged_as_rejected(
    tmp_path: Path, clock: ManualClock
) -> None:
    bad_945 = SetBody("945", [Segment.of("W06", "F", "SO-1", "20261127"), Segment.of("W03", "1")])
    ic = build_interchange(
        sender=THEM,
        receiver=US,
        functional_id="SW",
        sets=[bad_945],
        counters=InMemoryControlNumbers(500, 500, 500),
        at=clock.now(),
    )
    connector = _connector(tmp_path, clock)
    write_atomically(tmp_path / "mailbox" / "inbound", "945.x12", write_x12(ic).encode())
    result = await connector.poll()
    [failure] = result.failures
    assert failure.kind is FailureKind.REJECTED_INBOUND
    assert failure.replay_key == "ACME3PL:500:500:0500"
    assert "W12" in failure.reason
    [ack_name] = result.acks_sent
    ack = (tmp_path / "mailbox" / "outbound" / ack_name).read_text()
    assert "AK5*R" in ack
    assert "AK9*R" in ack


async def test_an_unknown_997_is_a_failure(tmp_path: Path, clock: ManualClock) -> None:
    body = SetBody("997", [Segment.of("AK1", "OW", "4242"), Segment.of("AK9", "A", "1", "1", "1")])
    ic = build_interchange(
        sender=THEM,
        receiver=US,
        functional_id="FA",
        sets=[body],
        counters=InMemoryControlNumbers(9, 9, 9),
        at=clock.now(),
    )
    connector = _connector(tmp_path, clock)
    write_atomically(tmp_path / "mailbox" / "inbound", "997.x12", write_x12(ic).encode())
    result = await connector.poll()
    [failure] = result.failures
    assert failure.kind is FailureKind.UNMATCHED_ACK
    assert "4242" in failure.reason
    assert result.acks_sent == ()  # a 997 is never acknowledged


async def test_a_failing_sink_leaves_the_file_for_the_next_poll(
    tmp_path: Path, clock: ManualClock
) -> None:
    sim = _sim(tmp_path, clock)
    await _connector(tmp_path, clock).send_releases([_release("SO-5")])
    await sim.step()
    calls: list[str] = []

    async def failing(item: InboundSet) -> None:
        calls.append(item.key)
        raise RuntimeError("the inbox is down")

    with pytest.raises(RuntimeError, match="inbox is down"):
        await _connector(tmp_path, clock).poll(sink=failing)
    kept: list[InboundSet] = []

    async def keep(item: InboundSet) -> None:
        kept.append(item)

    result = await _connector(tmp_path, clock).poll(sink=keep)
    assert calls[0] in [k.key for k in kept]
    assert {k.set_id for k in kept} == {"945", "846"}
    assert result.failures == ()


def test_control_numbers_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    first = JsonControlNumbers(path)
    taken = [first.next_interchange(), first.next_interchange(), first.next_group()]
    again = JsonControlNumbers(path)
    assert taken == [1, 2, 1]
    assert (again.next_interchange(), again.next_group(), again.next_set()) == (3, 2, 1)


def test_an_interrupted_write_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path, "940-1.x12", b"ISA*...")
    assert list(tmp_path.iterdir()) == []


async def test_a_missing_997_becomes_an_overdue_failure(tmp_path: Path, clock: ManualClock) -> None:
    connector = _connector(tmp_path, clock)
    sent = await connector.send_releases([_release("SO-1"), _release("SO-2")])
    clock.advance(600)
    assert connector.overdue_acks(timedelta(hours=1)) == ()
    clock.advance(3600)
    overdue = connector.overdue_acks(timedelta(hours=1))
    assert [(f.kind, f.order_number) for f in overdue] == [
        (FailureKind.ACK_OVERDUE, "SO-1"),
        (FailureKind.ACK_OVERDUE, "SO-2"),
    ]
    assert overdue[0].replay_key == f"OW:{sent.group_control}:{sent.sets[0][0]}"
    await _sim(tmp_path, clock).step()
    await connector.poll()
    assert connector.overdue_acks(timedelta(hours=1)) == ()
