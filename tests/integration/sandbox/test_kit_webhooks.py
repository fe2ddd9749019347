"""The webhook sender against a real receiver: signatures, retries, and deterministic chaos."""

from __future__ import annotations

import asyncio

import aiohttp

from crossdock.sandbox.kit import (
    Base64HmacSha256Signer,
    ChaosSpec,
    RetrySchedule,
    RunningServer,
    WebhookSender,
)

from .conftest import SECRET, Receiver, WidgetSimulator


def _sender(seed: int = 1, retries: int = 3) -> WebhookSender:
    return WebhookSender(
        Base64HmacSha256Signer(SECRET, header="X-Widget-Hmac"),
        RetrySchedule.exponential(retries, 0.07),
        headers=lambda d: {"X-Widget-Topic": d.topic, "X-Widget-Delivery": d.webhook_id},
        seed=seed,
    )


async def test_a_created_widget_is_delivered_signed(
    widgets: WidgetSimulator,
    widgets_server: RunningServer,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    base = widgets_server.base_url
    async with http.post(f"{base}/_sandbox/webhooks", json={"address": receiver.url}) as r:
        assert r.status == 201
    async with http.post(f"{base}/widgets", json={"key": "hooked", "name": "Ünïcode"}) as r:
        assert r.status == 201
    async with http.post(f"{base}/_sandbox/deliveries/drain?timeout_s=10") as r:
        assert (await r.json())["drained"] is True
    assert [(x["topic"], x["body"]["name"], x["signed"]) for x in receiver.received] == [
        ("widget/created", "Ünïcode", True)
    ]
    async with http.get(f"{base}/_sandbox/deliveries") as r:
        report = await r.json()
    assert report["deliveries"][0]["state"] == "delivered"
    assert report["attempts"][0]["ok"] is True


async def test_failed_attempts_are_retried_on_the_schedule(receiver: Receiver) -> None:
    receiver.fail_first = 2
    sender = _sender()
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b'{"key":"r"}')
        await sender.drain(10)
    finally:
        await sender.close()
    assert [a.status for a in sender.attempts] == [500, 500, 200]
    assert {a.webhook_id for a in sender.attempts} == {delivery.webhook_id}
    assert delivery.state == "delivered"
    assert len(receiver.received) == 1


async def test_a_delivery_out_of_retries_is_marked_failed(receiver: Receiver) -> None:
    receiver.fail_first = 100
    sender = _sender(retries=2)
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b"{}")
        await sender.drain(10)
    finally:
        await sender.close()
    assert [a.attempt for a in sender.attempts] == [1, 2, 3]
    assert delivery.state == "failed"


async def test_an_unreachable_receiver_is_an_attempt_with_an_error() -> None:
    sender = _sender(retries=0)
    sender.subscribe("http://127.0.0.1:9/hook")
    try:
        sender.emit("widget/created", b"{}")
        await sender.drain(10)
    finally:
        await sender.close()
    [attempt] = sender.attempts
    assert attempt.status is None
    assert attempt.error
    assert not attempt.ok


async def test_topics_filter_and_one_event_id_across_subscriptions(receiver: Receiver) -> None:
    sender = _sender()
    sender.subscribe(receiver.url, topics=["widget/created"])
    sender.subscribe(receiver.url, name="second")
    sender.subscribe(receiver.url, topics=["widget/deleted"])
    try:
        made = sender.emit("widget/created", b"{}")
        await sender.drain(10)
    finally:
        await sender.close()
    assert len(made) == 2
    assert len({d.event_id for d in made}) == 1
    assert len({d.webhook_id for d in made}) == 2
    assert len(receiver.received) == 2


async def _chaos_run(receiver: Receiver, chaos: ChaosSpec, seed: int) -> list[str]:
    receiver.received.clear()
    sender = _sender(seed=seed)
    sender.configure_chaos(chaos)
    sender.subscribe(receiver.url)
    try:
        for n in range(12):
            sender.emit("widget/created", f'{{"n":{n}}}'.encode())
            await sender.drain(10)  # one at a time: only chaos may change the order
    finally:
        await sender.close()
    return [f"{r['body']['n']}" for r in receiver.received]


async def test_chaos_is_deterministic_under_a_seed(receiver: Receiver) -> None:
    chaos = ChaosSpec(duplicate_rate=0.3, drop_rate=0.2)
    first = await _chaos_run(receiver, chaos, seed=42)
    second = await _chaos_run(receiver, chaos, seed=42)
    assert first == second
    sent = [str(n) for n in range(12)]
    assert len(first) != len(sent) or first != sent  # some chaos happened at these rates


async def test_duplicates_share_webhook_and_event_ids(receiver: Receiver) -> None:
    sender = _sender()
    sender.configure_chaos(ChaosSpec(duplicate_rate=1.0))
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b'{"n":0}')
        await sender.drain(10)
    finally:
        await sender.close()
    assert [r["delivery"] for r in receiver.received] == [delivery.webhook_id] * 2
    assert sorted(a.duplicate for a in sender.attempts) == [False, True]
    assert "duplicated" in delivery.chaos


async def test_dropped_deliveries_are_recorded_but_never_sent(receiver: Receiver) -> None:
    sender = _sender()
    sender.configure_chaos(ChaosSpec(drop_rate=1.0))
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b"{}")
        await sender.drain(10)
    finally:
        await sender.close()
    assert delivery.state == "dropped"
    assert receiver.received == []
    assert sender.attempts == []


async def test_reordered_delivery_arrives_after_the_next_one(receiver: Receiver) -> None:
    sender = _sender()
    sender.subscribe(receiver.url)
    try:
        sender.configure_chaos(ChaosSpec(reorder_rate=1.0))
        sender.emit("widget/created", b'{"n":0}')
        sender.configure_chaos(ChaosSpec())
        sender.emit("widget/created", b'{"n":1}')
        await sender.drain(10)
    finally:
        await sender.close()
    assert [r["body"]["n"] for r in receiver.received] == [1, 0]


async def test_delayed_and_held_deliveries_are_released_by_drain(receiver: Receiver) -> None:
    sender = _sender()
    sender.configure_chaos(ChaosSpec(reorder_rate=1.0, delay_rate=1.0, delay_s=0.05))
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b'{"n":5}')
        assert sender.pending == 1
        await sender.drain(10)
    finally:
        await sender.close()
    assert delivery.chaos == ["delayed", "reordered"]
    assert [r["body"]["n"] for r in receiver.received] == [5]


async def test_a_held_last_delivery_is_sent_after_the_hold_without_a_drain(
    receiver: Receiver,
) -> None:
    sender = _sender()
    sender.configure_chaos(ChaosSpec(reorder_rate=1.0, reorder_hold_s=0.05))
    sender.subscribe(receiver.url)
    try:
        [delivery] = sender.emit("widget/created", b'{"n":7}')
        for _ in range(200):  # bounded wait: nothing else is emitted to overtake it
            if delivery.state == "delivered":
                break
            await asyncio.sleep(0.05)
        assert sender.pending == 0
    finally:
        await sender.close()
    assert delivery.chaos == ["reordered"]
    assert [r["body"]["n"] for r in receiver.received] == [7]


async def test_chaos_is_set_through_the_admin_endpoint(
    widgets: WidgetSimulator, widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = f"{widgets_server.base_url}/_sandbox/faults"
    async with http.post(url, json={"webhooks": {"duplicate_rate": 0.5}}) as r:
        assert (await r.json())["webhooks"]["duplicate_rate"] == 0.5
    assert widgets.webhooks is not None
    assert widgets.webhooks.chaos.duplicate_rate == 0.5
