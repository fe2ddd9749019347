"""Polling NetSuite through SuiteQL: inventory balances and order changes since a cursor.

A cursor is JSON the caller keeps in the backbone (flow state): ``{"since": "<YYYY-MM-DD
HH:MM:SS>", "seen": [...]}``. NetSuite's ``lastmodifieddate`` has one-second resolution, so a
poll asks for ``>= since`` and skips the rows it already emitted at exactly ``since`` (``seen``,
keyed by balance and quantities, or by order and status): a change in the cursor's own second
is still seen unless it left that key as it was, and nothing is emitted twice.
`poll_into` runs one poll and stores its events and the new cursor in one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from crossdock.backbone.store import JSONObject, Store
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.ids import new_id
from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.mapping import MappingError
from crossdock.connectorkit import PermanentFailureError
from crossdock.connectors.netsuite.orders import order_from_netsuite
from crossdock.connectors.netsuite.payloads import FULFILMENT_BY_STATUS

__all__ = [
    "EPOCH",
    "INVENTORY_QUERY",
    "ORDERS_QUERY",
    "POLL_FLOW",
    "Cursor",
    "SuiteQLClient",
    "inventory_events",
    "order_events",
    "poll_into",
    "suiteql_pages",
]

EPOCH = "1970-01-01 00:00:00"
POLL_FLOW = "netsuite.poll"
_FORMAT = "%Y-%m-%d %H:%M:%S"

# The only value put into a query is the cursor's time, checked against its format on load.
INVENTORY_QUERY = (
    "SELECT item, location, quantityonhand, quantitycommitted, quantityavailable, "
    "lastmodifieddate FROM inventoryitemlocations WHERE lastmodifieddate >= :since "
    "ORDER BY lastmodifieddate"
)
ORDERS_QUERY = (
    "SELECT id, externalid, tranid, status, lastmodifieddate FROM transaction "
    "WHERE type = 'SalesOrd' AND lastmodifieddate >= :since ORDER BY lastmodifieddate"
)


class SuiteQLClient(Protocol):
    """What polling needs: one SuiteQL page, and a record read."""

    async def suiteql_page(self, query: str, *, limit: int, offset: int) -> JSONObject:
        """One page of ``POST query/v1/suiteql``."""
        ...

    async def read(self, kind: str, record_id: str) -> JSONObject:
        """``GET record/v1/<kind>/<id>?expandSubResources=true``."""
        ...


@dataclass(frozen=True)
class Cursor:
    """Where a poll starts: a time (NetSuite's resolution) and the rows seen at that time."""

    since: str = EPOCH
    seen: frozenset[str] = frozenset()

    @classmethod
    def load(cls, state: Mapping[str, Any] | None) -> Cursor:
        """From stored JSON (None: from the beginning).

        Raises:
            ValueError: The stored cursor is not one this module wrote.
        """
        if not state:
            return cls()
        since = state.get("since", EPOCH)
        datetime.strptime(since, _FORMAT)  # refuse a corrupted cursor loudly
        return cls(since, frozenset(str(s) for s in state.get("seen", [])))

    def dump(self) -> JSONObject:
        """As JSON for the backbone."""
        return {"since": self.since, "seen": sorted(self.seen)}

    def advance(self, rows: list[tuple[str, str]]) -> Cursor:
        """After emitting ``(lastmodifieddate, key)`` rows."""
        if not rows:
            return self
        latest = max(stamp for stamp, _ in rows)
        keys = {key for stamp, key in rows if stamp == latest}
        if latest == self.since:
            keys |= self.seen
        return Cursor(latest, frozenset(keys))


async def suiteql_pages(
    client: SuiteQLClient, query: str, *, page_size: int = 1000
) -> AsyncIterator[list[dict[str, str]]]:
    """Every page of ``query``, following ``hasMore`` with ``offset``."""
    offset = 0
    while True:
        page = await client.suiteql_page(query, limit=page_size, offset=offset)
        items = page.get("items") or []
        yield [{k: v for k, v in item.items() if k != "links"} for item in items]
        if not page.get("hasMore") or not items:
            return
        offset += len(items)


def _since(cursor: Cursor) -> str:
    return f"TO_TIMESTAMP('{cursor.since}', 'YYYY-MM-DD HH24:MI:SS')"


def _as_of(stamp: str) -> datetime:
    return datetime.strptime(stamp, _FORMAT).replace(tzinfo=UTC)


async def inventory_events(
    client: SuiteQLClient,
    cursor: Cursor,
    *,
    source: str,
    locations: Mapping[str, str],
    skus: dict[str, str],
    page_size: int = 1000,
) -> tuple[list[Event], Cursor]:
    """``inventory.changed`` for every item-location balance changed since ``cursor``.

    Args:
        client: The connector.
        cursor: Where to start.
        source: The events' source (the destination name).
        locations: NetSuite location id to hub location code (default: the id).
        skus: A cache of item id to SKU (``itemid``), filled as items are met.
        page_size: SuiteQL ``limit``.
    """
    query = INVENTORY_QUERY.replace(":since", _since(cursor))
    rows: list[dict[str, str]] = []
    async for page in suiteql_pages(client, query, page_size=page_size):
        rows.extend(page)
    fresh = []
    for row in rows:
        quantities = f"{row.get('quantityonhand')}/{row.get('quantitycommitted')}"
        key = f"{row['item']}@{row['location']}:{quantities}"
        if row["lastmodifieddate"] == cursor.since and key in cursor.seen:
            continue
        fresh.append((row, key))
    missing = sorted({row["item"] for row, _ in fresh} - skus.keys())
    if not all(item.isdigit() for item in missing):
        raise PermanentFailureError(f"NetSuite returned non-numeric item ids: {missing}")
    if missing:
        listed = ", ".join(missing)
        async for page in suiteql_pages(
            client,
            "SELECT id, itemid FROM item WHERE id IN (:ids)".replace(":ids", listed),
            page_size=page_size,
        ):
            skus.update({row["id"]: row["itemid"] for row in page if "itemid" in row})
    kind = EventType.INVENTORY_CHANGED.value
    events = []
    for row, _ in fresh:
        sku = skus.get(row["item"])
        if sku is None:
            raise PermanentFailureError(f"NetSuite item {row['item']} has no itemid to use as SKU")
        location = locations.get(row["location"], row["location"])
        level = InventoryLevel(
            sku=sku,
            location=location,
            on_hand=int(row.get("quantityonhand", "0")),
            reserved=int(row.get("quantitycommitted", "0")),
            available=int(row.get("quantityavailable", "0")),
            as_of=_as_of(row["lastmodifieddate"]),
            source=source,
        )
        events.append(
            Event(
                source=source,
                type=kind,
                subject=f"{sku}@{location}",
                dataschema=dataschema_for(kind),
                correlationid=new_id(),
                time=level.as_of,
                data=level.model_dump(mode="json"),
            )
        )
    return events, cursor.advance([(row["lastmodifieddate"], key) for row, key in fresh])


async def order_events(
    client: SuiteQLClient,
    cursor: Cursor,
    *,
    source: str,
    default_currency: str | None = None,
    page_size: int = 1000,
) -> tuple[list[Event], Cursor]:
    """``order.updated`` (the full canonical order) for every sales order changed since
    ``cursor``; the subject is its external id (the hub order id) when it has one."""
    query = ORDERS_QUERY.replace(":since", _since(cursor))
    fresh = []
    async for page in suiteql_pages(client, query, page_size=page_size):
        for row in page:
            key = f"{row['id']}:{row.get('status')}"
            if row["lastmodifieddate"] == cursor.since and key in cursor.seen:
                continue
            fresh.append((row, key))
    kind = EventType.ORDER_UPDATED.value
    events = []
    for row, _ in fresh:
        record = await client.read("salesOrder", row["id"])
        try:
            order = order_from_netsuite(record, default_currency=default_currency)
        except (MappingError, ValueError) as exc:
            raise PermanentFailureError(f"salesOrder {row['id']} does not map: {exc}") from exc
        external = row.get("externalid")
        status = str((record.get("status") or {}).get("id") or "")
        order = order.model_copy(
            update={
                "id": external or None,
                "fulfillment_status": FULFILMENT_BY_STATUS.get(status, order.fulfillment_status),
            }
        )
        data = order.model_dump(mode="json")
        events.append(
            Event(
                source=source,
                type=kind,
                subject=external or f"netsuite:{row['id']}",
                dataschema=dataschema_for(kind),
                correlationid=new_id(),
                time=_as_of(row["lastmodifieddate"]),
                data=data,
            )
        )
    return events, cursor.advance([(row["lastmodifieddate"], key) for row, key in fresh])


async def poll_into(
    store: Store,
    key: str,
    poll: Callable[[Cursor], Awaitable[tuple[list[Event], Cursor]]],
) -> list[Event]:
    """Run ``poll`` from the cursor stored under ``(POLL_FLOW, key)``; store its events and the
    new cursor in one transaction (a concurrent poller makes the save fail, not duplicate)."""
    state = await store.get_flow_state(POLL_FLOW, key)
    cursor = Cursor.load(state.state if state else None)
    events, advanced = await poll(cursor)
    async with store.transaction() as tx:
        if events:
            await tx.append_events(*events)
        await tx.save_flow_state(POLL_FLOW, key, advanced.dump(), state.version if state else 0)
    return events
