"""Dead-letter contract: inspect, replay (edited or not), audit trail."""

from __future__ import annotations

import pytest

from crossdock.backbone import Command, CommandStatus, NotFound, SqlStore


async def _dead(store: SqlStore, key: str, destination: str = "netsuite") -> int:
    await store.enqueue(Command(key, destination, "invoice.create", {"amount": "10.00"}))
    (claim,) = await store.claim("w", destinations=[destination])
    await store.fail_retryable(claim, "timeout", retry_after=0)
    (claim,) = await store.claim("w", destinations=[destination])
    await store.fail_permanent(claim, "400 bad request: amount", reason="rejected by the ERP")
    return claim.command_id


async def test_a_dead_letter_keeps_payload_every_error_and_reason(store: SqlStore) -> None:
    command_id = await _dead(store, "inv-1")
    letter = await store.get_dead_letter(command_id)
    assert letter is not None
    assert letter.reason == "rejected by the ERP"
    assert letter.command.payload == {"amount": "10.00"}
    assert [(a.attempt, a.outcome, a.error) for a in letter.attempts] == [
        (1, "retryable", "timeout"),
        (2, "permanent", "400 bad request: amount"),
    ]
    record = await store.get_command(command_id)
    assert record is not None
    assert record.status is CommandStatus.DEAD


async def test_dead_letters_are_listed_by_destination(store: SqlStore) -> None:
    one = await _dead(store, "a")
    two = await _dead(store, "b", destination="easypost")
    assert [d.command_id for d in await store.list_dead_letters()] == [one, two]
    assert [d.command_id for d in await store.list_dead_letters(destination="easypost")] == [two]
    assert await store.get_dead_letter(999_999) is None
    assert await store.dead_letter_counts() == {"netsuite": 1, "easypost": 1}
    await store.replay(one, actor="ops")
    assert await store.dead_letter_counts() == {"easypost": 1}


async def test_replay_with_an_edited_payload_is_linked_and_audited(store: SqlStore) -> None:
    original = await _dead(store, "inv-2")
    replay = await store.replay(original, actor="ops@example.com", payload={"amount": "12.00"})
    assert replay.created
    assert replay.command_id != original
    (claim,) = await store.claim("w")
    assert claim.command_id == replay.command_id
    assert claim.replay_of == original
    assert claim.command.payload == {"amount": "12.00"}
    assert claim.command.idempotency_key.startswith("inv-2")
    assert claim.attempt == 1
    (entry,) = await store.audit_trail(original)
    assert entry.actor == "ops@example.com"
    assert entry.action == "replay_edited"
    assert entry.new_command_id == replay.command_id
    assert entry.detail["payload_before"] == {"amount": "10.00"}
    assert entry.detail["payload_after"] == {"amount": "12.00"}
    assert await store.audit_trail(replay.command_id) == [entry]
    letter = await store.get_dead_letter(original)
    assert letter is not None
    assert list(letter.replays) == [replay.command_id]
    assert await store.list_dead_letters() == []  # replayed letters are hidden by default
    assert len(await store.list_dead_letters(include_replayed=True)) == 1


async def test_replaying_many_creates_one_new_command_each(store: SqlStore) -> None:
    ids = [await _dead(store, f"bulk-{i}") for i in range(3)]
    replays = await store.replay_many(ids, actor="ops")
    assert len({r.command_id for r in replays}) == 3
    for original, replay in zip(ids, replays, strict=True):
        record = await store.get_command(replay.command_id)
        assert record is not None
        assert record.replay_of == original
        assert record.command.payload == {"amount": "10.00"}
        (entry,) = await store.audit_trail(original)
        assert entry.action == "replay"
        assert "payload_after" not in entry.detail


async def test_a_second_replay_gets_its_own_key(store: SqlStore) -> None:
    original = await _dead(store, "twice")
    first = await store.replay(original, actor="ops")
    second = await store.replay(original, actor="ops")
    assert first.command_id != second.command_id
    assert len(await store.audit_trail(original)) == 2


async def test_only_dead_letters_can_be_replayed(store: SqlStore) -> None:
    (pending,) = await store.enqueue(Command("alive", "erp", "x"))
    with pytest.raises(NotFound):
        await store.replay(pending.command_id, actor="ops")
    ids = [await _dead(store, "ok")]
    with pytest.raises(NotFound):
        await store.replay_many([*ids, pending.command_id], actor="ops")
    letter = await store.get_dead_letter(ids[0])
    assert letter is not None
    assert list(letter.replays) == []
