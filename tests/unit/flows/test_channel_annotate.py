"""The storefront is told of a backorder: ``order.annotate`` tags the Shopify order and adds a
note line; the tag goes when the units are released; the webhook echo of the tag and note is
not taken for a customer edit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crossdock.flows.order_fulfilment import BackorderRule, decide

from .test_order_decide import SETTINGS, ctx, erp_created, kinds, order_data, order_event, run

SHORT = {"CAF-ESP-1KG": 1, "MUG-BLK": 5}
NOTE = "Backordered (short: CAF-ESP-1KG ×1): the order ships when every unit is in stock."


def echo(n: int, tags: list[str], note: str | None) -> Any:
    """The channel's ``orders/updated`` after our own annotate: same lines, new tags and note."""
    return order_event("order.updated", {**order_data(tags=tags), "note": note}, n)


def backordered_state() -> Any:
    state, [_, backordered] = run(
        [order_event("order.placed", order_data()), erp_created()], ctx(availability=SHORT)
    )
    assert state["status"] == "backorder"
    [annotate] = [c for c in backordered.commands if c.kind == "order.annotate"]
    assert annotate.destination == "shopify"
    assert annotate.payload["order_id"] == 7001
    assert annotate.payload["tags_add"] == ["backordered"]
    assert annotate.payload["note"] == NOTE
    assert "tags_remove" not in annotate.payload
    return state


def test_a_backorder_tags_the_channel_order_and_notes_the_short_units() -> None:
    backordered_state()


def test_the_echo_of_the_tag_and_note_changes_nothing_while_still_short() -> None:
    state = backordered_state()
    decision = decide(state, echo(3, ["backordered"], NOTE), ctx(availability=SHORT))
    assert decision.state["status"] == "backorder"
    assert decision.commands == ()
    assert decision.events == ()
    assert decision.state["edits"] == []
    assert decision.state["order"]["tags"] == ["backordered"]
    assert decision.state["short"] == {"CAF-ESP-1KG": 1}


def test_the_release_removes_the_tag_and_its_echo_changes_nothing() -> None:
    state = backordered_state()
    released = decide(state, echo(3, ["backordered"], NOTE), ctx())  # stock arrived meanwhile
    assert released.state["status"] == "released_to_warehouse"
    [annotate] = [c for c in released.commands if c.kind == "order.annotate"]
    assert annotate.payload == {
        "order_id": 7001,
        "tags_remove": ["backordered"],
        "instance": {"flow": "order_fulfilment", "key": state["order_id"]},
    }
    after = decide(released.state, echo(4, [], NOTE), ctx())
    assert after.state["status"] == "released_to_warehouse"
    assert kinds(after) == []
    assert after.events == ()


def test_a_split_tags_the_order_and_the_echo_releases_nothing_more() -> None:
    split = replace(SETTINGS, backorder=BackorderRule.SPLIT)
    state, [_, partial] = run(
        [order_event("order.placed", order_data()), erp_created()],
        ctx(settings=split, availability=SHORT),
    )
    assert state["status"] == "partial_backorder"
    [annotate] = [c for c in partial.commands if c.kind == "order.annotate"]
    assert annotate.payload["tags_add"] == ["backordered"]
    note = annotate.payload["note"]
    assert "CAF-ESP-1KG ×1" in note
    assert "when in stock" in note
    none_left = ctx(settings=split, availability={"CAF-ESP-1KG": 0})  # part 1 took the unit
    quiet = decide(state, echo(3, ["backordered"], note), none_left)
    assert quiet.state["status"] == "partial_backorder"
    assert quiet.commands == ()
    assert quiet.events == ()
    released = decide(state, echo(3, ["backordered"], note), ctx(settings=split))
    removals = [c.payload for c in released.commands if c.kind == "order.annotate"]
    assert [p.get("tags_remove") for p in removals] == [["backordered"]]
