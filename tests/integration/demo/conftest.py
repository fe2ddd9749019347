"""Shared helpers of the demo tests."""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

CROSSDOCK = Path(sys.executable).with_name("crossdock")
DEMO_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "demo.toml"

# The one dead letter the demo explains: a stock change of the storefront's gift card, an
# inventory item without a SKU, so no canonical inventory level can name it.
NO_SKU = re.compile(r"inventory item (\d+) is unknown or has no SKU")


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
