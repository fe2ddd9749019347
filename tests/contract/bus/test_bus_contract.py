"""The `EventBus` contract: deduplication by event id, ordered durable consumers, redelivery."""

from __future__ import annotations

from crossdock.bus import EventBus, subject_matches
from crossdock.canonical.envelope import Event

from .conftest import BusFactory


def _event(n: int, type_: str = "order.placed") -> Event:
    return Event(source="test", type=type_, subject=f"o{n}", correlationid=f"c{n}", data={"n": n})


async def _drain(bus: EventBus, consumer: str, **options: object) -> list[int]:
    seen: list[int] = []
    while True:
        batch = await bus.pull(consumer, batch=50, wait_seconds=0.3, **options)  # type: ignore[arg-type]
        if not batch:
            return seen
        for message in batch:
            seen.append(int(message.event.data["n"]))
            await message.ack()


async def test_a_republished_event_id_is_dropped_with_the_original_sequence(
    bus: EventBus,
) -> None:
    event = _event(1)
    first = await bus.publish(event)
    again = await bus.publish(event)
    assert not first.duplicate
    assert again.duplicate
    assert again.sequence == first.sequence
    assert await _drain(bus, "reader") == [1]


async def test_a_consumer_gets_every_event_in_publication_order_with_its_content(
    bus: EventBus,
) -> None:
    sent = [_event(n) for n in range(25)]
    for event in sent:
        await bus.publish(event)
    batch = await bus.pull("reader", batch=25, wait_seconds=1.0)
    assert [m.event for m in batch] == sent
    assert [m.sequence for m in batch] == sorted(m.sequence for m in batch)
    assert all(m.subject.endswith(".order.placed") and m.deliveries == 1 for m in batch)


async def test_consumers_are_independent_and_filtered(bus: EventBus) -> None:
    for n in range(6):
        await bus.publish(_event(n, "order.placed" if n % 2 else "shipment.created"))
    orders = await _drain(bus, "orders", filter_subject=f"{bus.prefix}.order.>")
    assert orders == [1, 3, 5]
    everything = await _drain(bus, "everything")
    assert everything == list(range(6))


async def test_a_nak_gives_the_message_back_and_counts_the_delivery(bus: EventBus) -> None:
    await bus.publish(_event(1))
    (first,) = await bus.pull("reader", batch=10, wait_seconds=1.0)
    await first.nak()
    (again,) = await bus.pull("reader", batch=10, wait_seconds=2.0)
    assert again.event.id == first.event.id
    assert again.deliveries == 2
    await again.ack()
    assert await bus.pull("reader", batch=10, wait_seconds=0.3) == []


async def test_an_unacked_message_comes_again_after_the_ack_wait(make_bus: BusFactory) -> None:
    bus = await make_bus(ack_wait=1.0)
    await bus.publish(_event(7))
    (first,) = await bus.pull("slow", batch=10, wait_seconds=1.0)
    redelivered = []
    for _ in range(15):  # bounded: the ack wait is 1 s
        redelivered = await bus.pull("slow", batch=10, wait_seconds=1.0)
        if redelivered:
            break
    assert [m.event.id for m in redelivered] == [first.event.id]
    assert redelivered[0].deliveries >= 2


async def test_a_second_node_on_the_same_bus_sees_one_copy(make_bus: BusFactory) -> None:
    node_a = await make_bus()
    node_b = await make_bus()
    event = _event(3)
    assert not (await node_a.publish(event)).duplicate
    assert (await node_b.publish(event)).duplicate
    assert await _drain(node_b, "reader") == [3]


def test_subject_patterns_follow_nats() -> None:
    assert subject_matches("a.*.c", "a.b.c")
    assert not subject_matches("a.*.c", "a.b.d")
    assert subject_matches("a.>", "a.b.c")
    assert not subject_matches("a.>", "a")
    assert not subject_matches("a.b", "a.b.c")
    assert subject_matches("a.b.c", "a.b.c")
