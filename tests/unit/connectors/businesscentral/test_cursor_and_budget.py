"""The polling cursor and inventory mapping on a real-shaped page; the budget's two limits."""

from __future__ import annotations

import asyncio
import math

import pytest

from crossdock.canonical.mapping import MappingError
from crossdock.connectors.businesscentral import (
    BusinessCentralBudget,
    PollCursor,
    inventory_level_from_item,
)
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import Feedback

from .conftest import fixture_json


def test_the_cursor_moves_to_the_latest_stamp_and_remembers_its_ids() -> None:
    page = fixture_json("items_changed_page.json")["value"]

    cursor = PollCursor().advance(page[:2])

    assert cursor.since == "2026-11-22T10:41:07.433Z"
    assert cursor.seen == {page[0]["id"], page[1]["id"]}
    assert cursor.filter() == "lastModifiedDateTime ge 2026-11-22T10:41:07.433Z"
    assert [r["number"] for r in page if cursor.is_new(r)] == ["1936-S"]

    later = cursor.advance(page[2:])
    assert later.since == "2026-11-22T10:42:55.01Z"
    assert later.seen == {page[2]["id"]}
    assert PollCursor.from_json(later.to_json()) == later


def test_a_record_sharing_the_stamp_but_not_seen_is_new() -> None:
    page = fixture_json("items_changed_page.json")["value"]
    cursor = PollCursor("2026-11-22T10:41:07.433+00:00", frozenset({page[0]["id"]}))

    assert [r["number"] for r in page if cursor.is_new(r)] == ["1920-S", "1936-S"]


async def test_the_budget_holds_the_sixth_call_until_one_returns() -> None:
    clock = ManualClock()
    budget = BusinessCentralBudget("bc", clock=clock)
    permits = [await budget.acquire() for _ in range(5)]

    assert budget.in_flight == 5
    assert math.isinf(budget.wait_time())
    sixth = asyncio.ensure_future(budget.acquire())
    await asyncio.sleep(0)
    assert not sixth.done()

    budget.release(permits[0], Feedback(200))
    await asyncio.wait_for(sixth, 1)
    assert budget.in_flight == 5


async def test_the_budget_waits_for_the_window_to_slide() -> None:
    clock = ManualClock()
    budget = BusinessCentralBudget("bc", limit=3, window=300, clock=clock)
    for _ in range(3):
        budget.release(await budget.acquire(), Feedback(200))
        clock.advance(10)

    assert budget.wait_time() == 300 - 30

    clock.advance(271)
    assert budget.wait_time() == 0


def test_polled_items_become_inventory_levels() -> None:
    page = fixture_json("items_changed_page.json")["value"]

    level = inventory_level_from_item(page[0], location="bc-main")

    assert (level.sku, level.location, level.on_hand, level.available) == (
        "1896-S",
        "bc-main",
        38,
        38,
    )
    assert level.reserved is None
    assert level.as_of.isoformat() == "2026-11-22T10:41:07.433000+00:00"
    assert level.source == "businesscentral"
    with pytest.raises(MappingError, match=r"items\[1936-S\].inventory"):
        inventory_level_from_item(page[2], location="bc-main")  # 97.5 units: not a whole count
