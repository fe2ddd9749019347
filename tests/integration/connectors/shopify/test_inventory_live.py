"""inventory.set against the simulator: compare-and-set, settling a stale compare, idempotency."""

from __future__ import annotations

import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import PermanentFailureError, RateLimitedError
from crossdock.connectors.shopify import ShopifyConnector

from .conftest import Shop


def command(key: str, **payload: object) -> Command:
    return Command(
        idempotency_key=key, destination="shopify", kind="inventory.set", payload=payload
    )


@pytest.mark.parametrize("version", ["2025-10", "2026-01", "2026-04", "2026-10"])
async def test_set_reads_the_current_quantity_and_compares_with_it(
    shop: Shop, version: str
) -> None:
    item, lyon = shop.item_of("MUG-RED"), shop.location("Entrepôt Lyon")
    before = shop.sim.state.quantity(item, lyon)
    result = await shop.connector(api_version=version).perform(
        command("inv-1", inventory_item_id=item, location_id=lyon, quantity=before - 7)
    )
    assert result["outcome"] == "applied"
    assert result["change_from"] == before
    assert shop.sim.state.quantity(item, lyon) == before - 7
    assert str(result["adjustment_group"]).startswith("gid://shopify/InventoryAdjustmentGroup/")


@pytest.mark.parametrize("version", ["2025-10", "2026-04"])
async def test_a_stale_compare_is_re_read_and_re_issued_not_blindly_retried(
    shop: Shop, version: str
) -> None:
    item, lyon = shop.item_of("MUG-BLU"), shop.location("Entrepôt Lyon")
    current = shop.sim.state.quantity(item, lyon)
    stale_view = current + 5  # what the flow believed; a sale happened since
    result = await shop.connector(api_version=version).perform(
        command(
            "inv-2", inventory_item_id=item, location_id=lyon, quantity=60, change_from=stale_view
        )
    )
    assert result["outcome"] == "applied"
    assert result["change_from"] == current  # the re-read value, not the stale one
    assert result["issues"] == 2
    assert shop.sim.state.quantity(item, lyon) == 60
    effects = await shop.effects("inventory", f"{item}@{lyon}")
    assert effects["duplicates_refused"] == 1  # the stale compare
    assert effects["created"] == 1


async def test_a_stale_compare_already_at_the_target_is_settled_without_a_write(shop: Shop) -> None:
    item, lyon = shop.item_of("BAG-20L"), shop.location("Entrepôt Lyon")
    target = shop.sim.state.quantity(item, lyon)
    result = await shop.connector().perform(
        command(
            "inv-3",
            inventory_item_id=item,
            location_id=lyon,
            quantity=target,
            change_from=target + 1,
        )
    )
    assert result["outcome"] == "already_at_target"
    effects = await shop.effects("inventory", f"{item}@{lyon}")
    assert effects.get("created", 0) == 0


async def test_the_same_command_twice_is_absorbed_by_the_idempotency_key(shop: Shop) -> None:
    item, munich = shop.item_of("BAG-20L"), shop.location("Lager München")
    before = shop.sim.state.quantity(item, munich)
    same = command(
        "inv-4", inventory_item_id=item, location_id=munich, quantity=3, change_from=before
    )
    connector = shop.connector()
    first = await connector.perform(same)
    again = await connector.perform(same, attempt=2)
    assert first["outcome"] == again["outcome"] == "applied"
    assert first["adjustment_group"] == again["adjustment_group"]
    effects = await shop.effects("inventory", f"{item}@{munich}")
    assert effects["created"] == 1
    assert effects["duplicates_absorbed"] == 1
    assert shop.sim.state.quantity(item, munich) == 3


async def test_an_unknown_item_is_permanent(shop: Shop) -> None:
    lyon = shop.location("Entrepôt Lyon")
    with pytest.raises(PermanentFailureError, match="not found"):
        await shop.connector().perform(
            command("inv-5", inventory_item_id=999, location_id=lyon, quantity=1)
        )


async def test_graphql_throttling_becomes_rate_limited_with_the_computed_wait(shop: Shop) -> None:
    item, lyon = shop.item_of("MUG-RED"), shop.location("Entrepôt Lyon")
    await shop.faults(throttle_factor=0.005)  # a 10-point bucket restoring 0.5 points/s
    gid = f"gid://shopify/InventoryItem/{item}"
    query = f'{{ shop {{ name }} inventoryItem(id: "{gid}") {{ sku }} }}'
    for _ in range(20):  # another app empties the shared bucket
        async with shop.http.post(f"{shop.api}/graphql.json", json={"query": query}) as r:
            body = await r.json()
        if body.get("errors"):
            break
    connector: ShopifyConnector = shop.connector()
    with pytest.raises(RateLimitedError) as caught:
        await connector.available_quantity(item, lyon)
    assert caught.value.classification is not None
    assert "THROTTLED" in caught.value.classification.codes
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0


async def test_a_retried_command_is_not_stuck_on_the_stale_answer_of_an_earlier_attempt(
    shop: Shop,
) -> None:
    # Attempt 1 read the level, and a sale moved it before its re-issue: Shopify keeps that
    # stale answer under the re-issue's key. When the outbox retries the command and reads the
    # same level again (the sales stopped), a re-issue keyed on (target, that level) alone
    # would get the kept stale answer on every attempt, until the command is dead.
    item, lyon = shop.item_of("MUG-RED"), shop.location("Entrepôt Lyon")
    level = shop.sim.state.quantity(item, lyon)
    connector = shop.connector(api_version="2026-04")
    same = command(
        "inv-6",
        inventory_item_id=item,
        location_id=lyon,
        quantity=level + 20,
        change_from=level - 1,
    )
    # What attempt 1 met: its first issue stale (change_from is behind), then the stale answer
    # of a re-issue at the level it read, kept by the simulator under that re-issue's key.
    first_issue = await connector._inventory_set(same, item, lyon, level + 20, level - 1)
    assert first_issue is None
    shop.sim.state.set_available(item, lyon, level - 3)  # a sale between read and write
    raced = await connector._inventory_set(same, item, lyon, level + 20, level)
    assert raced is None
    shop.sim.state.set_available(item, lyon, level)  # a restock: the level read before, again
    result = await connector.perform(same, attempt=2)
    assert result["outcome"] == "applied"
    assert shop.sim.state.quantity(item, lyon) == level + 20
