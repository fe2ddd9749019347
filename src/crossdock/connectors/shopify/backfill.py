"""Backfill: poll orders by an ``updated_at`` window to recover deliveries that never arrived.

``GET /admin/api/<v>/orders.json?updated_at_min=…&updated_at_max=…&status=any&limit=250``, then
the ``Link: <…page_info=…>; rel="next"`` cursor until there is none. Each order becomes a
`Delivery` shaped like a webhook (``X-Shopify-Topic`` inferred from the order's state, plus
``X-Crossdock-Backfill: true``) that goes through the same inbox and the same decoder. The
decoder derives event ids from (source, type, ``order:<id>@<updated_at>``), so an order state that
a webhook already brought yields the same event id, and the event log keeps one of the two.

The caller stores the returned `BackfillCursor` (as JSON) in the backbone and passes it to the
next poll; the next window starts `overlap` before it, since duplicates are harmless and a gap
is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crossdock.backbone.store import Delivery
from crossdock.canonical.ids import new_id
from crossdock.canonical.mapping import timestamp_or_none
from crossdock.connectorkit.http import encode_json
from crossdock.connectors.shopify.decode import order_state_key

if TYPE_CHECKING:
    from crossdock.connectors.shopify.connector import ShopifyConnector

__all__ = [
    "BACKFILL_HEADER",
    "BackfillCursor",
    "BackfillResult",
    "backfill_orders",
    "infer_order_topic",
    "next_link",
]

BACKFILL_HEADER = "X-Crossdock-Backfill"
PAGE_LIMIT = 250
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


@dataclass(frozen=True, slots=True)
class BackfillCursor:
    """Where the next backfill window starts.

    Attributes:
        updated_at_min: the end of the last complete window.
        last_seen_updated_at: the latest order ``updated_at`` seen so far (informational).
    """

    updated_at_min: datetime
    last_seen_updated_at: datetime | None = None

    def to_json(self) -> dict[str, str | None]:
        """The JSON form the caller stores."""
        last = self.last_seen_updated_at
        return {
            "updated_at_min": self.updated_at_min.astimezone(UTC).isoformat(),
            "last_seen_updated_at": last.astimezone(UTC).isoformat() if last else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BackfillCursor:
        """Read the stored JSON form back."""
        start = timestamp_or_none(data.get("updated_at_min"), field="updated_at_min")
        if start is None:
            raise ValueError("a backfill cursor needs updated_at_min")
        last = timestamp_or_none(data.get("last_seen_updated_at"), field="last_seen_updated_at")
        return cls(start, last)


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """One window's harvest.

    Attributes:
        deliveries: one webhook-shaped delivery per order, for the inbox.
        cursor: the cursor to store once the deliveries are durable.
        pages: how many pages were read.
    """

    deliveries: list[Delivery] = field(default_factory=list)
    cursor: BackfillCursor | None = None
    pages: int = 0


def next_link(link_header: str | None) -> str | None:
    """Return the ``rel="next"`` URL of a ``Link`` header, if any."""
    if not link_header:
        return None
    for url, rel in _LINK_RE.findall(link_header):
        if rel == "next":
            return str(url)
    return None


def infer_order_topic(order: Mapping[str, Any]) -> str:
    """The topic whose webhook would have carried this order state.

    Cancelled -> ``orders/cancelled``; never updated since creation -> ``orders/create``;
    otherwise ``orders/updated``. (Consumers treat an update of an unknown order as a placement.)
    """
    if order.get("cancelled_at"):
        return "orders/cancelled"
    created = timestamp_or_none(order.get("created_at"), field="created_at")
    updated = timestamp_or_none(order.get("updated_at"), field="updated_at")
    if created is not None and (updated is None or updated <= created):
        return "orders/create"
    return "orders/updated"


def _delivery(connector: ShopifyConnector, order: Mapping[str, Any]) -> Delivery:
    topic = infer_order_topic(order)
    settings = connector.settings
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": settings.shop_domain,
        "X-Shopify-API-Version": settings.api_version,
        BACKFILL_HEADER: "true",
    }
    if order.get("updated_at"):
        headers["X-Shopify-Triggered-At"] = str(order["updated_at"])
    return Delivery(
        source=settings.source,
        dedupe_key=f"backfill:{topic}:{order_state_key(order)}",
        body=encode_json(order),
        headers=headers,
        correlation_id=new_id(),
    )


async def backfill_orders(
    connector: ShopifyConnector,
    cursor: BackfillCursor,
    *,
    until: datetime | None = None,
    overlap: timedelta = timedelta(minutes=2),
    lag: timedelta = timedelta(seconds=30),
    page_limit: int = PAGE_LIMIT,
) -> BackfillResult:
    """Read every order updated in ``[cursor - overlap, until]`` and return them as deliveries.

    Args:
        connector: the shop's connector (REST calls go through its budget and error table).
        cursor: where the last complete window ended.
        until: the window's end (default: the connector clock's now minus `lag`, so that
            orders still being written are left for the next poll).
        overlap: how far before the cursor the window starts again.
        lag: see `until`.
        page_limit: orders per page (Shopify's maximum is 250).

    Raises:
        RetryableError, PermanentError: a page could not be read; nothing is lost, since the
        caller keeps the old cursor.
    """
    start = cursor.updated_at_min - overlap
    end = until or (connector.clock.now() - lag)
    if end <= start:
        return BackfillResult([], cursor, 0)
    params: dict[str, str | int] = {
        "updated_at_min": start.astimezone(UTC).isoformat(),
        "updated_at_max": end.astimezone(UTC).isoformat(),
        "status": "any",
        "limit": page_limit,
    }
    deliveries: list[Delivery] = []
    last_seen = cursor.last_seen_updated_at
    url: str | None = "orders.json"
    pages = 0
    while url is not None:
        response = await connector.rest("GET", url, params=params if pages == 0 else None)
        pages += 1
        for order in response.json().get("orders") or []:
            deliveries.append(_delivery(connector, order))
            updated = timestamp_or_none(order.get("updated_at"), field="updated_at")
            if updated is not None and (last_seen is None or updated > last_seen):
                last_seen = updated
        url = next_link(response.headers.get("Link"))
    return BackfillResult(deliveries, BackfillCursor(end, last_seen), pages)
