"""`EventRelay`: the event log reaches the bus in order, once, across a crash mid-batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.bus import BusUnavailable, EventBus, EventRelay, PublishAck
from crossdock.canonical.envelope import Event

from .conftest import BusFactory


class _FailsAfter:
    """A real bus that stops taking publications after `limit` of them (a crash mid-batch)."""

    def __init__(self, bus: EventBus, limit: int) -> None:
        self.prefix = bus.prefix
        self._bus = bus
        self._left = limit
        self.pull = bus.pull
        self.close = bus.close

    async def publish(self, event: Event) -> PublishAck:
        if self._left == 0:
            raise BusUnavailable("connection lost")
        self._left -= 1
        return await self._bus.publish(event)


def _events(n: int) -> list[Event]:
    return [
        Event(source="test", type="order.placed", subject=f"o{i}", correlationid="c", data={"n": i})
        for i in range(n)
    ]


async def _numbers(bus: EventBus) -> list[int]:
    seen: list[int] = []
    while batch := await bus.pull("reader", batch=100, wait_seconds=0.3):
        for message in batch:
            seen.append(int(message.event.data["n"]))
            await message.ack()
    return seen


async def test_the_log_is_published_in_order_and_the_checkpoint_moves(
    make_bus: BusFactory, tmp_path: Path
) -> None:
    bus = await make_bus()
    store = SQLiteStore(tmp_path / "hub.db")
    await store.start()
    try:
        await store.append_events(*_events(120))
        relay = EventRelay(store, bus, batch=50)
        assert [await relay.step() for _ in range(4)] == [50, 50, 20, 0]
        assert relay.published == 120
        assert await relay.position() == 120
        assert await _numbers(bus) == list(range(120))
    finally:
        await store.close()


async def test_a_relay_killed_mid_batch_publishes_nothing_twice(
    make_bus: BusFactory, tmp_path: Path
) -> None:
    bus = await make_bus()
    store = SQLiteStore(tmp_path / "hub.db")
    await store.start()
    try:
        await store.append_events(*_events(30))
        crashed = EventRelay(store, _FailsAfter(bus, 17), batch=30)
        with pytest.raises(BusUnavailable):
            await crashed.step()
        assert await crashed.position() == 0  # the batch was not checkpointed
        restarted = EventRelay(store, bus, batch=30)
        assert await restarted.step() == 30
        assert (restarted.published, restarted.duplicates) == (13, 17)
        assert await _numbers(bus) == list(range(30))
    finally:
        await store.close()
