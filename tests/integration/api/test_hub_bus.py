"""The hub publishes its event log to NATS JetStream when ``[hub] bus_url`` is set."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from crossdock._cli.bus import tail_events
from crossdock.api import IngressSettings
from crossdock.bus import DEFAULT_PREFIX
from crossdock.bus.nats import JetStreamBus
from crossdock.canonical.envelope import Event
from crossdock.governance import parse_governance
from crossdock.hub import Hub

from .conftest import MAX_BODY, ORDER_1043, SECRET, governance_text, shopify_headers

pytestmark = pytest.mark.nats


async def test_a_decoded_order_reaches_the_bus_once_and_a_tail_reads_it(
    tmp_path: Path, nats_url: str
) -> None:
    text = governance_text(tmp_path / "hub.db").replace(
        "api_port = 0\n", f'api_port = 0\nbus_url = "{nats_url}"\n'
    )
    hub = Hub(
        parse_governance(text),
        environ={"TEST_SHOP_WEBHOOK_SECRET": SECRET},
        ingress=IngressSettings(max_body_bytes=MAX_BODY, retry_after_seconds=2),
    )
    await hub.start()
    reader = await JetStreamBus.connect(nats_url)
    consumer = f"test-{uuid.uuid4().hex[:12]}"
    try:
        # A fresh updated_at gives a fresh event id: the stream outlives runs, and its
        # duplicate window would drop a republished id of a run a minute ago.
        order = json.loads(ORDER_1043.read_bytes())
        order["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        body = json.dumps(order).encode()
        event_id = f"evt-bus-{uuid.uuid4().hex}"
        async with aiohttp.ClientSession() as client:
            for _ in range(2):  # a redelivery: one inbox row, one event, one message
                async with client.post(
                    f"{hub.base_url}/hooks/shop",
                    data=body,
                    headers=shopify_headers(body, event_id=event_id),
                ) as answer:
                    assert answer.status == 200
        assert hub.store is not None
        ours: list[str] = []
        stored: list[str] = []
        for _ in range(60):  # bounded wait for decode and relay (up to ~60 s of pulls)
            batch = await reader.pull(
                consumer, filter_subject=f"{DEFAULT_PREFIX}.order.placed", wait_seconds=1.0
            )
            for message in batch:
                await message.ack()
            stored = [
                s.event.id
                for s in await hub.store.read_events(0, limit=1000)
                if s.event.type == "order.placed"
            ]
            ours += [m.event.id for m in batch if m.event.id in stored]
            if ours and not batch:
                break
        assert len(stored) == 1
        assert ours == stored
        assert hub.bus_relay is not None
        assert hub.bus_relay.relay is not None
        assert await hub.bus_relay.relay.position() >= 1
    finally:
        await reader.close()
        await hub.stop()


async def test_bus_tail_prints_published_events_as_json_lines(nats_url: str) -> None:
    bus = await JetStreamBus.connect(nats_url)
    subject = f"tail-{uuid.uuid4().hex}"
    try:
        event = Event(source="test", type="order.tail_test", subject=subject, correlationid="c")
        await bus.publish(event)
    finally:
        await bus.close()
    consumer = f"tail-{uuid.uuid4().hex[:12]}"
    shown = await tail_events(nats_url, consumer, f"{DEFAULT_PREFIX}.order.tail_test", 1, 2.0)
    assert shown == 1
    # The consumer is durable: a second tail of the same name resumes after what was acked.
    assert await tail_events(nats_url, consumer, f"{DEFAULT_PREFIX}.order.tail_test", 1, 0.5) == 0
