"""Shared helpers of the demo tests."""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path

CROSSDOCK = Path(sys.executable).with_name("crossdock")
DEMO_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "demo.toml"

# A stock change of the storefront's gift card: an inventory item without a SKU, so no
# canonical inventory level can name it.
NO_SKU = re.compile(r"inventory item (\d+) is unknown or has no SKU")

# Dead inbox rows the demo explains (each one is a known gap, shown as such in the view).
EXPLAINED_DEAD_INBOX: Mapping[str, re.Pattern[str]] = {
    "shopify": NO_SKU,
}

# Dead-lettered commands the demo explains.
EXPLAINED_DEAD_LETTERS: Mapping[str, tuple[re.Pattern[str], ...]] = {
    # None any more: a returning customer's CRM Account is asked for when the order is
    # validated, a custom line ships without an item fulfilment line, and a fulfilment is capped
    # at what the storefront still has open (an order.exception and a Case say the rest).
}


NOT_FOUND_IN_CRM = re.compile(r"Provided external ID field value does not exist: (\d+)")
"""The Shopify order id of a Salesforce status update whose Order does not exist."""


def explained_dead_letter(destination: str, reason: str) -> bool:
    """True when the test knows why a command to `destination` was dead-lettered."""
    return any(p.search(reason) for p in EXPLAINED_DEAD_LETTERS.get(destination, ()))


def store_counts(path: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Events by type, the reasons of dead inbox rows, and the order subjects, read with sqlite3."""
    with sqlite3.connect(path) as conn:
        events = dict(conn.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
        dead = [r for (r,) in conn.execute("SELECT reason FROM inbox WHERE status = 'dead'")]
        subjects = [
            s
            for (s,) in conn.execute(
                "SELECT subject FROM events WHERE type = 'order.placed' ORDER BY position"
            )
        ]
    conn.close()
    return events, dead, subjects


def dead_inbox(path: Path) -> list[tuple[str, str]]:
    """(source, reason) of every dead inbox row, read with sqlite3."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT source, reason FROM inbox WHERE status = 'dead'").fetchall()
    conn.close()
    return [(str(source), str(reason)) for source, reason in rows]


def explained_dead_inbox(source: str, reason: str) -> bool:
    """True when the test knows why a delivery from `source` is a dead inbox row."""
    pattern = EXPLAINED_DEAD_INBOX.get(source)
    return pattern is not None and pattern.search(reason) is not None
