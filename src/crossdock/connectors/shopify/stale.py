"""Recognise stale deliveries: an update older than one already seen for the same subject.

Shopify does not order its deliveries, and a retry can arrive hours late (it keeps its
X-Shopify-Triggered-At). Every event the decoder builds carries the source time in `Event.time`
(the resource's ``updated_at``, else the trigger time); `StaleGuard` remembers the latest time
per (subject, type family) and flags an event that is older, so a flow can ignore it.
"""

from __future__ import annotations

from datetime import datetime

from crossdock.canonical.envelope import Event

__all__ = ["StaleGuard", "is_stale"]


def _family(event_type: str) -> str:
    # order.placed/updated/cancelled/refunded all describe one order's state.
    return event_type.split(".", 1)[0]


def is_stale(event: Event, latest: datetime | None) -> bool:
    """Whether `event` describes an older state than `latest` (the newest already applied)."""
    return latest is not None and event.time < latest


class StaleGuard:
    """An in-memory record of the newest source time seen per subject (a flow keeps its own
    in its durable state; this one serves a single process and the tests)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], datetime] = {}

    def observe(self, event: Event) -> bool:
        """Record `event`; return True when it is stale (older than one already observed)."""
        key = (_family(event.type), event.subject or event.id)
        latest = self._latest.get(key)
        if is_stale(event, latest):
            return True
        self._latest[key] = event.time
        return False
