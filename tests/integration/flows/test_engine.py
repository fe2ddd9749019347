"""The engine on its own, with a tiny flow: ordering, rejections, bugs, derived keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import JSONObject, Store, StoreUnavailable
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import (
    EVENT_REJECTED,
    Decision,
    FlowCommand,
    FlowEvent,
    FlowRejected,
    FlowRunner,
    emitted_event_id,
)


class Tally:
    """Adds ``data.n`` per subject; 13 is a bug, a negative number is refused."""

    name = "tally"
    subscribes = frozenset({"tally.add"})

    async def route(self, event: Event, store: Store) -> str | None:
        return None if event.subject == "not-mine" else event.subject

    async def context(self, key: str, event: Event, state: JSONObject | None, store: Store) -> Any:
        return None

    def decide(self, state: JSONObject | None, event: Event, context: Any) -> Decision:
        n = int(event.data["n"])
        if n == 13:
            raise RuntimeError("unlucky")
        if n < 0:
            raise FlowRejected(f"cannot add {n}")
        seen = [*(state or {}).get("seen", []), n]
        return Decision(
            {"seen": seen},
            commands=(FlowCommand(f"add:{len(seen)}", "ledger", "ledger.add", {"n": n}),),
            events=(FlowEvent(f"added:{len(seen)}", "tally.added", {"total": sum(seen)}),),
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db")
    await opened.start()
    yield opened
    await opened.close()


def add(subject: str, n: int) -> Event:
    return Event(
        source="test", type="tally.add", subject=subject, correlationid="c-1", data={"n": n}
    )


async def seen(store: Store, key: str) -> list[int]:
    found = await store.get_flow_state("tally", key)
    return [] if found is None else list(found.state["state"]["seen"])


async def test_events_of_one_key_are_applied_in_log_order(store: SQLiteStore) -> None:
    await store.append_events(*(add("a", n) for n in (1, 2, 3)), add("b", 10), add("a", 4))
    await FlowRunner(store, [Tally()], batch_size=2).run_until_idle()
    assert await seen(store, "a") == [1, 2, 3, 4]
    assert await seen(store, "b") == [10]


async def test_commands_and_events_carry_derived_keys_and_causes(store: SQLiteStore) -> None:
    cause = add("a", 5)
    await store.append_events(cause)
    runner = FlowRunner(store, [Tally()])
    await runner.run_until_idle()
    [outcome] = runner.outcomes
    [command] = outcome.commands
    assert command.idempotency_key == "tally:a:add:1"
    assert command.partition_key == "tally:a:ledger"
    assert command.correlation_id == "c-1"
    [event] = outcome.events
    assert event.id == emitted_event_id("tally", "a", "added:1")
    assert event.causationid == cause.id
    assert event.time == cause.time
    assert (await store.find_command("tally:a:add:1")) is not None


async def test_a_bug_or_a_refusal_is_recorded_and_the_runner_goes_on(store: SQLiteStore) -> None:
    await store.append_events(add("a", 1), add("a", 13), add("a", -2), add("a", 3))
    runner = FlowRunner(store, [Tally()])
    await runner.run_until_idle()
    assert [o.outcome for o in runner.outcomes] == ["applied", "rejected", "rejected", "applied"]
    assert await seen(store, "a") == [1, 3]
    rejected = [s.event for s in await store.read_events(0) if s.event.type == EVENT_REJECTED]
    reasons = [e.data["reason"] for e in rejected]
    assert reasons[0].startswith("decision failed: RuntimeError: unlucky")
    assert reasons[1] == "cannot add -2"
    assert all(e.data["flow"] == "tally" for e in rejected)


async def test_events_for_no_flow_only_advance_the_checkpoint(store: SQLiteStore) -> None:
    other = Event(source="test", type="other.thing", correlationid="c", data={})
    await store.append_events(add("not-mine", 1), other)
    runner = FlowRunner(store, [Tally()])
    await runner.run_until_idle()
    assert [o.outcome for o in runner.outcomes] == ["ignored"]
    assert await runner.position() == 2
    assert await store.queue_depth() == {}


async def test_flow_names_must_be_unique(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="unique"):
        FlowRunner(store, [Tally(), Tally()])


class FlakyLookups(Tally):
    """Its lookups fail once with the store unavailable, then work."""

    failures = 1

    async def context(self, key: str, event: Event, state: JSONObject | None, store: Store) -> Any:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("database is locked")
        return None


async def test_a_store_failure_in_a_lookup_is_retried_never_rejected(store: SQLiteStore) -> None:
    await store.append_events(add("a", 1))
    runner = FlowRunner(store, [FlakyLookups()])
    with pytest.raises(StoreUnavailable):
        await runner.run_once()
    assert await runner.position() == 0
    await runner.run_until_idle()
    assert [o.outcome for o in runner.outcomes] == ["applied"]
    assert await seen(store, "a") == [1]


class BrokenRouting(Tally):
    async def route(self, event: Event, store: Store) -> str | None:
        raise KeyError("subject")


async def test_a_bug_in_routing_is_recorded_as_a_rejection(store: SQLiteStore) -> None:
    await store.append_events(add("a", 1))
    runner = FlowRunner(store, [BrokenRouting()])
    await runner.run_until_idle()
    [outcome] = runner.outcomes
    assert outcome.outcome == "rejected"
    assert outcome.reason == "routing failed: KeyError: 'subject'"
