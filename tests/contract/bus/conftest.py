"""Fixtures of the bus contract suite: every test runs on the in-memory bus and on NATS JetStream.

Each JetStream test gets its own stream and subject prefix, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from crossdock.bus import EventBus, InMemoryBus
from crossdock.bus.nats import JetStreamBus

BusFactory = Callable[..., Awaitable[EventBus]]


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("nats", id="nats", marks=pytest.mark.nats),
    ]
)
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Build buses of one kind (several calls share one stream, as two hub nodes would)."""
    url = request.getfixturevalue("nats_url") if request.param == "nats" else None
    suffix = uuid.uuid4().hex[:12]
    built: list[EventBus] = []
    shared = InMemoryBus(prefix=f"cdtest.{suffix}", ack_wait=1.0)

    async def make(**options: float) -> EventBus:
        bus: EventBus
        if url is None:
            bus = shared
            if options:
                bus = InMemoryBus(
                    prefix=f"cdtest.{suffix}",
                    ack_wait=options.get("ack_wait", 1.0),
                    duplicate_window=options.get("duplicate_window", 120.0),
                )
        else:
            bus = await JetStreamBus.connect(
                url,
                stream=f"CDTEST_{suffix}",
                prefix=f"cdtest.{suffix}",
                ack_wait=options.get("ack_wait", 1.0),
                duplicate_window=options.get("duplicate_window", 120.0),
            )
        built.append(bus)
        return bus

    yield make
    for bus in built:
        if isinstance(bus, JetStreamBus):
            await bus.delete_stream()
        await bus.close()


@pytest.fixture
async def bus(make_bus: BusFactory) -> EventBus:
    """One bus of the kind under test."""
    return await make_bus()
