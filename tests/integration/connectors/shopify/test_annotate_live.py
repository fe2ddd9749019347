"""``order.annotate`` against the simulator: tags added and removed as a set, the note line
written once (by its marker) across retries and pinned versions, unknown orders refused, and
the ``orders/updated`` echo carrying the tags with the lines unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.canonical.order import Order
from crossdock.connectorkit import PermanentFailureError

from .conftest import Shop

GRAPHQL, REST = "2026-01", "2025-10"
NOTE = "Backordered: MUG-RED ×2 awaited"


def annotate(order_id: int, key: str, **payload: Any) -> Command:
    return Command(
        idempotency_key=key,
        destination="shopify",
        kind="order.annotate",
        payload={"order_id": order_id, **payload},
    )


async def tagged_order(shop: Shop, tags: str = "b2b") -> dict[str, Any]:
    return await shop.place(
        {
            "line_items": [{"sku": "MUG-RED", "quantity": 2}, {"sku": "BAG-20L", "quantity": 1}],
            "note": "Livrer après 18h",
            "tags": tags,
        }
    )


def api_paths(shop: Shop) -> list[str]:
    return [r.path for r in shop.sim.requests.recent(limit=200) if "/admin/api/" in r.path]


@pytest.mark.parametrize("version", [GRAPHQL, REST])
async def test_tags_and_the_note_line_are_written_once_across_retries(
    shop: Shop, version: str
) -> None:
    order = await tagged_order(shop)
    command = annotate(order["id"], f"ann-{version}", tags_add=["backordered"], note=NOTE)
    connector = shop.connector(api_version=version)

    first = await connector.perform(command)
    writes = (await shop.effects("order_update", str(order["id"])))["created"]
    again = await connector.perform(command)
    settled = await connector.perform(command, attempt=2)

    stored = shop.sim.state.order(order["id"])
    marker = f"[crossdock:ann-{version}]"
    assert stored["tags"] == "b2b, backordered"
    assert stored["note"] == f"Livrer après 18h\n{NOTE} {marker}"
    assert first == {
        "order_id": order["id"],
        "tags": ["b2b", "backordered"],
        "tags_added": ["backordered"],
        "tags_removed": [],
        "note_added": True,
    }
    nothing = first | {"tags_added": [], "note_added": False}
    assert again == settled == nothing
    # GraphQL writes the tag and the note separately; REST in one PUT. Retries write nothing.
    assert writes == (2 if version == GRAPHQL else 1)
    assert (await shop.effects("order_update", str(order["id"])))["created"] == writes
    paths = api_paths(shop)
    if version == GRAPHQL:
        assert not any(p.endswith(f"/orders/{order['id']}.json") for p in paths)
    else:
        assert not any(p.endswith("/graphql.json") for p in paths)


@pytest.mark.parametrize(("before", "after"), [(REST, GRAPHQL), (GRAPHQL, REST)])
async def test_a_retry_on_another_pinned_version_writes_nothing_twice(
    shop: Shop, before: str, after: str
) -> None:
    order = await tagged_order(shop, tags="")
    command = annotate(order["id"], "ann-upgrade", tags_add=["backordered"], note=NOTE)
    made = await shop.connector(api_version=before).perform(command)
    writes = (await shop.effects("order_update", str(order["id"])))["created"]
    retried = await shop.connector(api_version=after).perform(command, attempt=2)

    stored = shop.sim.state.order(order["id"])
    assert stored["tags"] == "backordered"
    assert stored["note"].count("[crossdock:ann-upgrade]") == 1
    assert made["note_added"] is True
    assert retried["note_added"] is False
    assert retried["tags"] == ["backordered"]
    assert retried["tags_added"] == []
    assert (await shop.effects("order_update", str(order["id"])))["created"] == writes


@pytest.mark.parametrize("version", [GRAPHQL, REST])
async def test_a_release_removes_the_tag_and_leaves_the_others(shop: Shop, version: str) -> None:
    order = await tagged_order(shop, tags="vip, backordered, b2b")
    connector = shop.connector(api_version=version)
    release = annotate(order["id"], "ann-release", tags_remove=["backordered", "never-there"])
    removed = await connector.perform(release)
    again = await connector.perform(release)

    stored = shop.sim.state.order(order["id"])
    assert stored["tags"] == "vip, b2b"
    assert stored["note"] == "Livrer après 18h"  # no note asked: the note is left alone
    assert removed["tags_removed"] == ["backordered"]
    assert again["tags_removed"] == []
    assert again["tags"] == ["vip", "b2b"]
    assert (await shop.effects("order_update", str(order["id"])))["created"] == 1


async def test_different_commands_each_add_their_line(shop: Shop) -> None:
    order = await tagged_order(shop)
    connector = shop.connector()
    await connector.perform(annotate(order["id"], "ann-a", tags_add=["backordered"], note="one"))
    await connector.perform(annotate(order["id"], "ann-b", tags_add=["backordered"], note="two"))
    note = shop.sim.state.order(order["id"])["note"]
    assert note.splitlines() == [
        "Livrer après 18h",
        "one [crossdock:ann-a]",
        "two [crossdock:ann-b]",
    ]
    assert shop.sim.state.order(order["id"])["tags"] == "b2b, backordered"


@pytest.mark.parametrize("version", [GRAPHQL, REST])
async def test_an_unknown_order_is_a_permanent_failure(shop: Shop, version: str) -> None:
    connector = shop.connector(api_version=version)
    command = annotate(4242, "ann-unknown", tags_add=["backordered"], note=NOTE)
    with pytest.raises(PermanentFailureError, match=r"order 4242 does not exist in crossdock-"):
        await connector.perform(command)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "needs tags_add, tags_remove or a note"),
        ({"tags_add": "backordered"}, "tags_add must be a list"),
        ({"tags_add": ["a,b"]}, "without a comma"),
        ({"tags_add": ["x"], "tags_remove": ["x"]}, "both in tags_add and tags_remove"),
        ({"note": 7}, "note must be text"),
    ],
)
async def test_a_malformed_payload_is_refused_before_any_call(
    shop: Shop, payload: dict[str, Any], reason: str
) -> None:
    order = await tagged_order(shop)
    before = len(api_paths(shop))
    with pytest.raises(PermanentFailureError, match=reason):
        await shop.connector().perform(annotate(order["id"], "ann-bad", **payload))
    assert len(api_paths(shop)) == before


async def test_the_simulator_refuses_a_mutation_on_an_unknown_order(shop: Shop) -> None:
    query = (
        'mutation($id: ID!) { tagsAdd(id: $id, tags: ["x"]) { node { id } '
        "userErrors { field message } } "
        'orderUpdate(input: {id: $id, note: "n"}) { order { id } userErrors { field message } } }'
    )
    body = {"query": query, "variables": {"id": "gid://shopify/Order/4242"}}
    async with shop.http.post(f"{shop.api}/graphql.json", json=body) as response:
        data = (await response.json())["data"]
    assert data["tagsAdd"] == {
        "node": None,
        "userErrors": [{"field": ["id"], "message": "Order does not exist"}],
    }
    assert data["orderUpdate"]["userErrors"] == [
        {"field": ["id"], "message": "Order does not exist"}
    ]


@pytest.mark.parametrize("version", [GRAPHQL, REST])
async def test_the_webhook_echo_carries_the_tags_and_the_same_lines(
    shop: Shop, version: str
) -> None:
    await shop.subscribe("orders/create", "orders/updated")
    order = await tagged_order(shop)
    connector = shop.connector(api_version=version)
    await connector.perform(annotate(order["id"], "ann-echo", tags_add=["backordered"], note=NOTE))
    await shop.drain()

    decoded: dict[str, list[Order]] = {}
    for hook in shop.hooks:
        [event] = await connector.decode(connector.to_delivery(hook.headers, hook.raw))
        decoded.setdefault(event.type, []).append(Order.model_validate(event.data))
    [placed] = decoded["order.placed"]
    echoes = decoded["order.updated"]
    assert len(echoes) == (2 if version == GRAPHQL else 1)
    last = echoes[-1]
    assert last.tags == ["b2b", "backordered"]
    assert last.note is not None
    assert last.note.endswith(f"{NOTE} [crossdock:ann-echo]")
    for echo in echoes:  # the lines, their quantities and the totals are those placed
        assert [(ln.line_id, ln.sku, ln.quantity) for ln in echo.lines] == [
            (ln.line_id, ln.sku, ln.quantity) for ln in placed.lines
        ]
        assert echo.totals == placed.totals
        assert echo.shipping_address == placed.shipping_address
