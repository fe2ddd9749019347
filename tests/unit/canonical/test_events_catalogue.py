"""The event catalogue and its page in docs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.canonical import events, registry
from crossdock.canonical.envelope import Event

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def test_every_event_type_is_catalogued_with_a_known_schema() -> None:
    assert set(events.CATALOGUE) == set(events.EventType)
    versions = registry.all_versions()
    for spec in events.CATALOGUE.values():
        assert spec.schema in versions
        assert spec.type.value.split(".")[0] in {*registry.ENTITY_NAMES, "inventory"}


def test_issue_named_types_exist() -> None:
    named = {
        "order.placed",
        "order.updated",
        "order.cancelled",
        "inventory.changed",
        "shipment.updated",
        "return.requested",
    }
    assert named <= {t.value for t in events.EventType}


def test_docs_page_lists_every_type_and_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in events.CATALOGUE.values():
        assert f"`{spec.type.value}`" in text
        assert f"`{spec.schema}`" in text
    assert text == events.render_markdown(), (
        "docs/events.md is stale: run `crossdock schema events docs/events.md`"
    )


def test_dataschema_urn_matches_the_envelope() -> None:
    urn = events.dataschema_for("order.placed")
    assert urn == "urn:crossdock:schema:order.v1"
    event = Event(source="shopify", type="order.placed", correlationid="c", dataschema=urn)
    assert event.dataschema == events.spec_for(event.type).dataschema


def test_unknown_event_type_raises() -> None:
    with pytest.raises(KeyError, match=r"unknown event type 'order\.exploded'"):
        events.spec_for("order.exploded")
