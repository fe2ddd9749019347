"""The availability read model: versioned levels, ATP arithmetic, staleness, order independence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdock.availability import (
    SNAPSHOT_FLOW,
    AvailabilityReadModel,
    AvailabilitySettings,
    settings_from_governance,
)
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import StoredEvent
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType
from crossdock.canonical.inventory import InventoryLevel
from crossdock.flows.order_fulfilment.ports import AvailabilityLookup
from crossdock.governance import load_governance
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience.breaker import BreakerConfig, CircuitBreaker

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def level_event(
    sku: str,
    location: str,
    available: int,
    *,
    at: datetime = T0,
    source: str = "netsuite",
    on_hand: int | None = None,
) -> Event:
    """An ``inventory.changed`` event as the connectors write it."""
    level = InventoryLevel(
        sku=sku,
        location=location,
        on_hand=on_hand,
        available=available,
        as_of=at,
        source=source,
    )
    return Event(
        source=source,
        type=EventType.INVENTORY_CHANGED.value,
        subject=f"{sku}@{location}",
        correlationid="c-1",
        time=at,
        data=level.model_dump(mode="json"),
    )


def stored(position: int, event: Event) -> StoredEvent:
    return StoredEvent(position, event, T0)


class _NoStore:
    """Stands for a store in tests that only apply events (any call is a test failure)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the store was used: {name}")


def model(
    settings_: AvailabilitySettings | None = None, clock: ManualClock | None = None
) -> AvailabilityReadModel:
    return AvailabilityReadModel(
        _NoStore(),  # type: ignore[arg-type]
        settings_,
        clock=clock or ManualClock(T0),
    )


def test_newer_level_wins_whatever_the_arrival_order() -> None:
    m = model()
    newer = level_event("SKU-1", "WH1", 7, at=T0 + timedelta(seconds=5))
    older = level_event("SKU-1", "WH1", 40, at=T0)
    assert m.apply(stored(2, newer)) is True
    assert m.apply(stored(1, older)) is False
    found = m.lookup("SKU-1", "WH1")
    assert found is not None
    assert found.source_available == 7
    assert m.position == 2


def test_same_source_time_is_decided_by_log_position() -> None:
    m = model()
    m.apply(stored(5, level_event("SKU-1", "WH1", 3)))
    m.apply(stored(4, level_event("SKU-1", "WH1", 9)))
    assert m.level("SKU-1", "WH1") is not None
    assert m.level("SKU-1", "WH1").available == 3  # type: ignore[union-attr]


def test_atp_deducts_reservations_safety_stock_and_channel_buffer() -> None:
    cfg = AvailabilitySettings(
        safety_stock={"SKU-1": 2, "*": 1}, channel_buffers={"web": 3, "*": 0}
    )
    m = model(cfg)
    m.apply(stored(1, level_event("SKU-1", "WH1", 20, on_hand=25)))
    m.apply(stored(2, level_event("SKU-2", "WH1", 1)))
    m.set_reserved("SKU-1", "WH1", 4)
    web = m.lookup("SKU-1", "WH1", "web")
    assert web is not None
    assert (web.on_hand, web.reserved, web.safety_stock, web.channel_buffer) == (25, 4, 2, 3)
    assert web.available_to_promise == 20 - 4 - 2 - 3
    pos = m.lookup("SKU-1", "WH1", "pos")
    assert pos is not None
    assert pos.available_to_promise == 20 - 4 - 2
    tight = m.lookup("SKU-2", "WH1", "web")
    assert tight is not None
    assert tight.available_to_promise == 0


def test_unknown_sku_is_none_and_channel_echoes_are_ignored() -> None:
    m = model(AvailabilitySettings(ignored_sources=frozenset({"shopify"})))
    assert m.apply(stored(1, level_event("SKU-9", "WH1", 50, source="shopify"))) is False
    assert m.lookup("SKU-9", "WH1") is None
    assert m.total("SKU-9") is None
    assert m.position == 1


def test_a_channel_connector_source_with_its_shop_is_an_echo_too() -> None:
    settings_ = AvailabilitySettings(ignored_sources=frozenset({"shopify"}))
    m = model(settings_)
    echo = level_event("SKU-9", "WH1", 50, source="shopify:crossdock-sandbox.myshopify.com")
    assert m.apply(stored(1, echo)) is False
    assert m.lookup("SKU-9", "WH1") is None
    assert settings_.ignores("shopify:any-shop.myshopify.com")
    assert not settings_.ignores("netsuite")
    assert not settings_.ignores("shopifyish:x")


def test_unreadable_level_is_counted_and_skipped() -> None:
    m = model()
    bad = Event(
        source="netsuite",
        type=EventType.INVENTORY_CHANGED.value,
        correlationid="c",
        data={"sku": "X", "location": "WH1", "available": "many"},
    )
    assert m.apply(stored(1, bad)) is False
    assert m.rejected == 1
    assert m.lookup("X", "WH1") is None


def test_answers_carry_age_and_go_stale_past_the_latency_target() -> None:
    clock = ManualClock(T0)
    m = model(AvailabilitySettings(latency_target=timedelta(seconds=60)), clock)
    m.apply(stored(1, level_event("SKU-1", "WH1", 5, source="netsuite")))
    m.apply(stored(2, level_event("SKU-1", "WH1", 5, source="edi3pl", at=T0 - timedelta(days=10))))
    clock.advance(30)
    fresh = m.lookup("SKU-1", "WH1")
    assert fresh is not None
    assert not fresh.stale
    assert fresh.age_seconds == 30.0
    assert fresh.sources["netsuite"].age_seconds == 30.0
    assert fresh.sources["edi3pl"].age_seconds == 30.0 + 10 * 86400
    clock.advance(31)
    old = m.lookup("SKU-1", "WH1")
    assert old is not None
    assert old.stale
    assert old.age_seconds == 61.0
    assert old.available_to_promise == 5


async def test_an_open_erp_breaker_marks_every_answer_stale() -> None:
    clock = ManualClock(T0)
    breaker = CircuitBreaker("netsuite", config=BreakerConfig(failure_threshold=1), clock=clock)
    m = AvailabilityReadModel(
        _NoStore(),  # type: ignore[arg-type]
        clock=clock,
        erp_breakers=[breaker],
    )
    m.apply(stored(1, level_event("SKU-1", "WH1", 5)))
    assert await m.refresh_health() is False
    await breaker.record_failure(await breaker.before_call())
    assert await m.refresh_health() is True
    found = m.lookup("SKU-1", "WH1")
    assert found is not None
    assert found.stale
    assert found.age_seconds == 0.0
    assert found.available_to_promise == 5


_levels = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["WH1", "WH2"]),
        st.integers(-5, 200),
        st.integers(0, 20),
        st.sampled_from(["netsuite", "edi3pl", "businesscentral"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(levels=_levels, seed=st.integers(0, 2**32 - 1))
def test_shuffled_stock_events_converge_to_the_in_order_result(
    levels: list[tuple[str, str, int, int, str]], seed: int
) -> None:
    events = [
        stored(i + 1, level_event(sku, loc, qty, at=T0 + timedelta(seconds=sec), source=src))
        for i, (sku, loc, qty, sec, src) in enumerate(levels)
    ]
    in_order, shuffled = model(), model()
    for event in events:
        in_order.apply(event)
    mixed = list(events)
    random.Random(seed).shuffle(mixed)
    for event in mixed:
        shuffled.apply(event)
    keys = {(sku, loc) for sku, loc, *_ in levels}
    for sku, loc in keys:
        assert shuffled.lookup(sku, loc) == in_order.lookup(sku, loc)
    assert shuffled.position == in_order.position


async def test_checkpoint_then_restart_reads_only_the_rest(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = SQLiteStore(tmp_path / "hub.db", clock=clock)
    await store.start()
    try:
        await store.append_events(level_event("SKU-1", "WH1", 10), level_event("SKU-2", "WH@2", 3))
        first = AvailabilityReadModel(store, clock=clock)
        assert await first.start() == 2
        assert await first.save_checkpoint() == 2
        await store.append_events(level_event("SKU-1", "WH1", 8, at=T0 + timedelta(seconds=1)))
        second = AvailabilityReadModel(store, clock=clock)
        assert await second.start() == 3
        assert isinstance(second, AvailabilityLookup)
        assert await second.available(["SKU-1", "SKU-2", "NOPE"]) == {
            "SKU-1": 8,
            "SKU-2": 3,
            "NOPE": None,
        }
        snapshot = await store.get_flow_state(SNAPSHOT_FLOW, "main")
        assert snapshot is not None
        assert snapshot.state["position"] == 2
        restored = AvailabilityReadModel(store, clock=clock)
        restored._load(snapshot.state)
        assert restored.lookup("SKU-2", "WH@2") == first.lookup("SKU-2", "WH@2")
        assert restored.position == 2
    finally:
        await store.close()


def test_settings_from_the_example_governance_file() -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "crossdock.toml"
    governance = load_governance(example)
    cfg = settings_from_governance(governance, safety_stock={"*": 2}, channel_buffers={"web": 1})
    domain = governance.domains["inventory_availability"]
    assert cfg.latency_target == domain.latency_target
    channels = {n for n, s in governance.systems.items() if s.active and s.kind == "shopify"}
    assert channels
    assert channels <= cfg.ignored_sources
    assert "shopify" in cfg.ignored_sources  # the kind: Shopify's events say shopify:<shop>
    assert cfg.ignores("shopify:1234567.myshopify.com")
    assert not cfg.ignores("netsuite")
    assert cfg.safety_for("ANY") == 2
    assert cfg.buffer_for("web") == 1
    assert cfg.buffer_for("pos") == 0
    with pytest.raises(ValueError, match="must not be negative"):
        AvailabilitySettings(safety_stock={"A": -1})
