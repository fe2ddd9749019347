"""The EDI 3PL through the hub's machinery: outbox, worker pool, inbox, decoder, dead letters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from crossdock.backbone.store import CommandStatus, InboxStatus
from crossdock.connectors.edi import FailureKind
from crossdock.connectors.edi.x12 import read_x12
from crossdock.hub.edi import EdiPoller

from .conftest import SYSTEM, Rig, make_order, release_command


def _envelope(path_bytes: bytes) -> tuple[int, int, str]:
    """ISA13, GS06 and W0502 of a one-set 940 file."""
    document = read_x12(path_bytes)
    [ic] = document.interchanges
    [group] = ic.groups
    [ts] = group.sets
    w05 = ts.find("W05")
    assert w05 is not None
    return ic.control_number, group.control_number, w05.get(2)


async def test_a_retried_release_sends_one_940(rig: Rig) -> None:
    order = make_order("SO-1", [("1", "TSHIRT-BLK-M", 2), ("2", "MUG-WHT", 1)])
    [enqueued] = await rig.store.enqueue(release_command(order))

    # A worker writes the 940 and dies before it commits: its lease runs out.
    [claim] = await rig.store.claim("doomed", destinations=[SYSTEM], lease_seconds=0.2)
    await rig.connector.perform(claim.command, attempt=claim.attempt)
    assert len(rig.files("940")) == 1
    await asyncio.sleep(0.3)

    # Another worker takes it over; the ledger shows the set was sent: no second 940.
    await rig.drain_queue()
    record = await rig.store.get_command(enqueued.command_id)
    assert record is not None
    assert record.status is CommandStatus.DONE
    assert record.attempts == 2
    assert record.result is not None
    assert record.result["already"] is True
    # The same order released again under another key (a flow step retried) is no new 940.
    await rig.store.enqueue(release_command(order, key="release:SO-1:again"))
    await rig.drain_queue()
    [sent] = rig.files("940")
    assert _envelope(sent.read_bytes())[2] == "SO-1"
    assert record.result["file_name"] == sent.name

    await rig.sim.step()
    view = rig.sim.order_view("SO-1")
    assert view is not None
    assert (view["received_940s"], view["duplicates_absorbed"]) == (1, 0)


async def test_shipments_come_back_as_canonical_events(rig: Rig) -> None:
    order = make_order("SO-1", [("1", "TSHIRT-BLK-M", 2), ("2", "MUG-WHT", 1)])
    await rig.store.enqueue(release_command(order))
    await rig.drain_queue()
    await rig.sim.step()  # 997 for the 940, and the first 846
    rig.clock.advance(60)
    await rig.sim.step()  # SO-1 ships: a 945

    report = await rig.poller.poll_once()
    assert report.failures == ()
    assert [a.status.value for a in report.result.acknowledgments] == ["accepted"]
    assert report.recorded == 2  # the 846 and the 945
    received = await rig.store.list_inbox(InboxStatus.RECEIVED)
    assert sorted(r.headers["x-edi-set-id"] for r in received) == ["846", "945"]
    assert {r.dedupe_key for r in received} == {s.key for s in report.result.sets}
    assert all(r.body.startswith(b"ISA") and r.source == SYSTEM for r in received)

    assert await rig.decoder.drain() == 2
    assert await rig.store.list_inbox(InboxStatus.DEAD) == []
    events = [s.event for s in await rig.store.read_events()]
    shipments = [e for e in events if e.type == "shipment.updated"]
    [shipment] = shipments
    assert shipment.data["order"]["number"] == "SO-1"
    assert shipment.data["location"] == "acme-reno"
    assert shipment.data["tracking_number"]
    shipped = {line["sku"]: line["quantity"] for line in shipment.data["lines"]}
    assert shipped == {"TSHIRT-BLK-M": 2, "MUG-WHT": 1}
    levels = {e.data["sku"]: e.data["available"] for e in events if e.type == "inventory.changed"}
    assert levels == {"TSHIRT-BLK-M": 40, "MUG-WHT": 25, "CAP-RED": 10}

    # The 3PL resends its 945 interchange: recognised, nothing new reaches the inbox.
    [advice] = [s for s in report.result.sets if s.set_id == "945"]
    archived = next((rig.root / "archive").glob(f"*-{advice.file_name}"))
    (rig.root / "inbound" / advice.file_name).write_bytes(archived.read_bytes())
    again = await rig.poller.poll_once()
    assert again.result.duplicates == (advice.key,)
    assert again.recorded == 0
    assert len(await rig.store.list_inbox(InboxStatus.DECODED)) == 2


async def test_a_crash_before_the_ledger_is_written_meets_the_inbox_duplicate(rig: Rig) -> None:
    await rig.sim.send_inventory_advice()
    rig.ledger.crash_next = True
    try:
        await rig.poller.poll_once()
    except RuntimeError:
        pass
    else:  # pragma: no cover - the crash must happen
        raise AssertionError("the poll should have died")
    assert len(list((rig.root / "inbound").glob("846-*.x12"))) == 1  # not archived
    assert len(await rig.store.list_inbox(InboxStatus.RECEIVED)) == 1  # but recorded

    report = await rig.poller.poll_once()  # after the restart: the same interchange again
    assert (report.recorded, report.inbox_duplicates) == (0, 1)
    assert len(await rig.store.list_inbox(InboxStatus.RECEIVED)) == 1
    assert list((rig.root / "inbound").glob("846-*.x12")) == []


async def test_a_997_rejection_is_a_replayable_dead_letter(rig: Rig) -> None:
    # This 3PL takes order numbers of up to 22 characters (W0502): its 997 rejects the set.
    number = "SO-2026-11-27-WEB-000123"
    order = make_order(number, [("1", "CAP-RED", 1)])
    await rig.store.enqueue(release_command(order))
    await rig.drain_queue()
    [first] = rig.files("940")
    first_envelope = _envelope(first.read_bytes())
    await rig.sim.step()

    report = await rig.poller.poll_once()
    [failure] = report.failures
    assert failure.kind is FailureKind.REJECTED_BY_PARTNER
    assert failure.order_number == number
    assert len(report.dead_letters) == 1
    await rig.drain_queue()  # the hub's workers refuse the record: a dead letter

    [dead] = await rig.store.list_dead_letters(destination=SYSTEM)
    assert dead.command.kind == "edi.resend"
    assert dead.reason.startswith("rejected_by_partner: ")
    assert failure.reason in dead.reason
    assert dead.command.payload["replay_key"] == failure.replay_key
    assert dead.command.payload["order_number"] == number

    # The same failure seen again (a second 997, another poll) is not a second dead letter.
    assert await rig.poller.record_failures([failure]) == []

    # The operator replays it: the set goes out again under new control numbers.
    replay = await rig.store.replay(dead.command_id, actor="ops@example.com")
    await rig.drain_queue()
    done = await rig.store.get_command(replay.command_id)
    assert done is not None
    assert done.status is CommandStatus.DONE
    assert done.replay_of == dead.command_id
    assert done.result is not None
    resent = rig.outbound / str(done.result["file_name"])
    isa13, gs06, w0502 = _envelope(resent.read_bytes())
    assert w0502 == number
    assert isa13 != first_envelope[0]
    assert gs06 != first_envelope[1]
    [audit] = await rig.store.audit_trail(dead.command_id)
    assert (audit.action, audit.actor) == ("replay", "ops@example.com")
    assert audit.new_command_id == replay.command_id
    after = await rig.store.get_dead_letter(dead.command_id)
    assert after is not None
    assert list(after.replays) == [replay.command_id]
    assert await rig.store.list_dead_letters(destination=SYSTEM) == []

    # Replaying the same dead letter twice resends nothing more.
    second = await rig.store.replay(dead.command_id, actor="ops@example.com")
    await rig.drain_queue()
    again = await rig.store.get_command(second.command_id)
    assert again is not None
    assert again.result is not None
    assert again.result["already"] is True
    assert len(rig.files("940")) == 2

    # The 3PL still refuses the number: the resent set is rejected in turn, with a new key.
    await rig.sim.step()
    view = rig.sim.order_view(number)
    assert view is not None
    assert view["rejected_940s"] == 2
    later = await rig.poller.poll_once()
    [refused] = later.failures
    assert refused.replay_key != failure.replay_key
    await rig.drain_queue()
    [dead_again] = await rig.store.list_dead_letters(destination=SYSTEM)
    assert dead_again.command.payload["replay_key"] == refused.replay_key


async def test_overdue_acks_and_unreadable_files_are_dead_letters(rig: Rig) -> None:
    order = make_order("SO-1", [("1", "MUG-WHT", 1)])
    await rig.store.enqueue(release_command(order))
    await rig.drain_queue()
    (rig.root / "inbound" / "945-garbage.x12").write_bytes(b"this is not X12\n")

    rig.clock.advance(3600)
    early = await rig.poller.poll_once()  # the 3PL never answers
    assert [f.kind for f in early.failures] == [FailureKind.MALFORMED_FILE]
    rig.clock.advance(4 * 3600)
    late = await rig.poller.poll_once()
    [overdue] = late.failures
    assert overdue.kind is FailureKind.ACK_OVERDUE
    assert overdue.order_number == "SO-1"
    assert (await rig.poller.poll_once()).dead_letters == ()  # still overdue, recorded once
    await rig.drain_queue()

    dead = {d.command.payload["kind"]: d for d in await rig.store.list_dead_letters()}
    assert set(dead) == {"malformed_file", "ack_overdue"}
    assert "no 997" in dead["ack_overdue"].reason
    assert len(list((rig.root / "error").glob("*-945-garbage.x12"))) == 1

    # Replaying the overdue ack resends the 940; replaying the bad file marks it handled.
    for item in dead.values():
        await rig.store.replay(item.command_id, actor="ops")
    await rig.drain_queue()
    assert len(rig.files("940")) == 2
    assert await rig.store.list_dead_letters() == []
    assert (await rig.poller.poll_once()).failures == ()  # the replayed group is not overdue
    rig.clock.advance(timedelta(hours=5).total_seconds())
    [next_overdue] = (await rig.poller.poll_once()).failures  # the resent one, if never acked
    assert next_overdue.replay_key != overdue.replay_key


async def test_a_rejection_lost_in_a_crash_is_found_again_at_restart(rig: Rig) -> None:
    number = "SO-2026-11-27-WEB-000999"  # longer than this 3PL's 22 characters
    await rig.store.enqueue(release_command(make_order(number, [("1", "CAP-RED", 1)])))
    await rig.drain_queue()
    await rig.sim.step()
    # The process reads the 997 (ledger: rejected; file archived) and dies before enqueueing.
    died = await rig.edi.poll()
    assert [f.kind for f in died.failures] == [FailureKind.REJECTED_BY_PARTNER]

    restarted = EdiPoller(rig.store, SYSTEM, rig.edi, ack_overdue=None)
    report = await restarted.poll_once()
    [found] = report.failures
    assert found.replay_key.endswith(":")  # the whole group: the 997's detail is gone
    assert found.order_number == number
    assert len(report.dead_letters) == 1
    assert (await restarted.poll_once()).dead_letters == ()
    assert await EdiPoller(rig.store, SYSTEM, rig.edi).lost_rejections() == []

    await rig.drain_queue()
    [dead] = await rig.store.list_dead_letters(destination=SYSTEM)
    assert "found in the EDI ledger" in dead.reason
    replay = await rig.store.replay(dead.command_id, actor="ops")
    await rig.drain_queue()
    done = await rig.store.get_command(replay.command_id)
    assert done is not None
    assert done.result is not None
    assert _envelope((rig.outbound / str(done.result["file_name"])).read_bytes())[2] == number
