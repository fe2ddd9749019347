"""The pure part of ``order.annotate``: what an order's tags and note become."""

from __future__ import annotations

from crossdock.backbone.store import Command
from crossdock.connectors.shopify.annotate import Annotation, split_tags


def annotation(**payload: object) -> Annotation:
    command = Command(
        "order_fulfilment:o1:annotate:backorder", "shopify", "order.annotate", payload
    )
    return Annotation.from_command(command, 42)


MARKER = "[crossdock:order_fulfilment:o1:annotate:backorder]"


def test_an_empty_note_becomes_the_marked_line() -> None:
    plan = annotation(note="  short: MUG-RED ×2 ").plan([], None)
    assert plan.note == f"short: MUG-RED ×2 {MARKER}"
    assert not plan.tags_changed


def test_the_line_goes_below_the_note_without_its_trailing_blanks() -> None:
    plan = annotation(note="short").plan([], "Gift wrap please\n\n")
    assert plan.note == f"Gift wrap please\nshort {MARKER}"


def test_a_note_carrying_the_marker_is_left_alone() -> None:
    plan = annotation(note="short, reworded").plan([], f"x\nshort {MARKER}\nmerchant line")
    assert plan.note is None
    assert plan.result(42)["note_added"] is False


def test_tags_are_added_and_removed_as_a_set_keeping_their_order() -> None:
    plan = annotation(tags_add=["backordered", "vip", "backordered"], tags_remove=["old"]).plan(
        ["vip", "old", "b2b"], None
    )
    assert (plan.add, plan.remove, plan.tags) == (
        ("backordered",),
        ("old",),
        ("vip", "b2b", "backordered"),
    )


def test_shopify_tags_read_from_rest_and_graphql_shapes() -> None:
    assert split_tags("b2b, backordered,,  vip ") == ["b2b", "backordered", "vip"]
    assert split_tags(["b2b", " vip"]) == ["b2b", "vip"]
    assert split_tags(None) == []
