"""ERP polling in the hub: the inventory and order change feeds of the configured ERP.

The ERP is the authority for stock, but it sends no webhooks: the hub polls it. `ErpPoller`
runs one feed (``inventory`` or ``orders``) on an interval. Each poll reads the changes since a
cursor kept in the store and appends their canonical events and the new cursor in one
transaction (a crash never loses or repeats a change; a concurrent poller of the same feed makes
the save fail, not duplicate). Every request goes through the connector's breaker and rate
budget (`Connector.call`), so a failing ERP opens its breaker and polling backs off; failures
are logged and retried with a growing delay, never ending the hub.

One small adapter per ERP kind turns its poll API into that shape:

- NetSuite: `NetSuiteConnector.poll_inventory_into` / `poll_orders_into` already store events
  and cursor together (flow state ``netsuite.poll``, key ``<system>:<feed>``).
- Business Central: `BusinessCentralConnector.poll_inventory` / `poll_orders` return records;
  the adapter maps them (`inventory_level_from_item`, `order_from_businesscentral`) and saves
  the cursor (flow state ``businesscentral.poll``, key ``<system>:<feed>``) with the events.

Events appended: ``inventory.changed`` (source: the ERP's system name; subject ``sku@location``;
data an `InventoryLevel`), and ``order.updated`` (source: the ERP's system name; subject the hub
order id when the ERP holds it as external id / external document number, else
``<system>:<erp id>``; data the full canonical order, ``id`` the hub order id or null,
``channel`` the ERP's system kind). These are the ERP's view of orders, never channel edits.

Settings of ``[systems.<erp>]``: ``poll_interval_s`` (default 5), ``location`` (Business
Central: the hub location code of the company's stock, default the system name).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import Store, StoreError
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.ids import new_id
from crossdock.canonical.mapping import MappingError
from crossdock.connectorkit.connector import Connector
from crossdock.connectors.businesscentral import (
    CURSOR_FLOW,
    BusinessCentralConnector,
    PollCursor,
    inventory_level_from_item,
    order_from_businesscentral,
)
from crossdock.connectors.netsuite import NetSuiteConnector
from crossdock.governance import Governance
from crossdock.observability.logging import get_logger

__all__ = [
    "DEFAULT_POLL_INTERVAL_S",
    "FEEDS",
    "BusinessCentralFeeds",
    "ErpFeeds",
    "ErpPoller",
    "Feed",
    "NetSuiteFeeds",
    "erp_feeds",
    "erp_of",
    "erp_pollers",
]

DEFAULT_POLL_INTERVAL_S: Final = 5.0
MAX_BACKOFF_S: Final = 30.0
Feed = Literal["inventory", "orders"]
FEEDS: Final[tuple[Feed, ...]] = ("inventory", "orders")


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.hub.erp")


class ErpFeeds(Protocol):
    """One ERP's change feeds: poll one, store its events and cursor together."""

    @property
    def system(self) -> str:
        """The ERP's system name."""
        ...

    @property
    def connector(self) -> Connector:
        """The ERP's connector (its breaker and budget guard every poll)."""
        ...

    @property
    def reports_commitments(self) -> bool:
        """Whether the ERP's levels deduct the stock committed to its sales orders (NetSuite's
        ``quantityavailable`` does; Business Central's item ``inventory`` is on hand only)."""
        ...

    async def poll(self, feed: Feed, store: Store) -> list[Event]:
        """Poll `feed` from its stored cursor; append the events and the new cursor at once."""
        ...


class NetSuiteFeeds:
    """NetSuite's feeds, over its connector's SuiteQL polling (cursor ``netsuite.poll``)."""

    reports_commitments = True

    def __init__(self, connector: NetSuiteConnector) -> None:
        self.connector = connector
        self.system = connector.destination

    async def poll(self, feed: Feed, store: Store) -> list[Event]:
        """Poll `feed` (`NetSuiteConnector.poll_inventory_into` / `poll_orders_into`)."""
        if feed == "inventory":
            return await self.connector.poll_inventory_into(store)
        return await self.connector.poll_orders_into(store)


def _hub_order_id(external_document_number: object) -> str | None:
    # The connector writes a UUID hub id as its 32 hex digits (Code[35]); a shorter id as it is.
    text = str(external_document_number or "").strip()
    if not text:
        return None
    if len(text) == 32:
        with contextlib.suppress(ValueError):
            return str(uuid.UUID(hex=text))
    return text


class BusinessCentralFeeds:
    """Business Central's feeds: items (with ``inventory``) and sales orders (lines expanded).

    Args:
        connector: The system's connector.
        location: The hub location code of the company's stock (items carry one figure).
    """

    reports_commitments = False

    def __init__(self, connector: BusinessCentralConnector, *, location: str) -> None:
        self.connector = connector
        self.system = connector.destination
        self.location = location

    async def poll(self, feed: Feed, store: Store) -> list[Event]:
        """Poll `feed` from the cursor under ``(businesscentral.poll, <system>:<feed>)``."""
        key = f"{self.system}:{feed}"
        found = await store.get_flow_state(CURSOR_FLOW, key)
        cursor = PollCursor.from_json(found.state) if found is not None else PollCursor()
        if feed == "inventory":
            result = await self.connector.poll_inventory(cursor)
            events = [self._level(record) for record in result.records]
        else:
            result = await self.connector.poll_orders(cursor)
            events = [self._order(record) for record in result.records]
        async with store.transaction() as tx:
            if events:
                await tx.append_events(*events)
            await tx.save_flow_state(
                CURSOR_FLOW, key, result.cursor.to_json(), found.version if found else 0
            )
        return events

    def _level(self, record: Mapping[str, object]) -> Event:
        level = inventory_level_from_item(record, location=self.location, source=self.system)
        kind = EventType.INVENTORY_CHANGED.value
        return Event(
            source=self.system,
            type=kind,
            subject=f"{level.sku}@{level.location}",
            dataschema=dataschema_for(kind),
            correlationid=new_id(),
            time=level.as_of,
            data=level.model_dump(mode="json"),
        )

    def _order(self, record: Mapping[str, object]) -> Event:
        order = order_from_businesscentral(record, local_currency=self.connector.local_currency)
        hub_id = _hub_order_id(record.get("externalDocumentNumber"))
        order = order.model_copy(update={"id": hub_id})
        kind = EventType.ORDER_UPDATED.value
        return Event(
            source=self.system,
            type=kind,
            subject=hub_id or f"{self.system}:{record.get('number')}",
            dataschema=dataschema_for(kind),
            correlationid=new_id(),
            time=order.updated_at or order.placed_at,
            data=order.model_dump(mode="json"),
        )


def erp_of(governance: Governance) -> str | None:
    """The ERP the hub polls: ``[flows.inventory] erp``, else ``[flows.order_fulfilment] erp``."""
    flows = governance.flows
    if flows.inventory is not None and flows.inventory.enabled:
        return flows.inventory.erp
    if flows.order_fulfilment is not None and flows.order_fulfilment.enabled:
        return flows.order_fulfilment.erp
    return None


def erp_feeds(governance: Governance, outbound: Mapping[str, Connector]) -> ErpFeeds | None:
    """The feeds of the polled ERP, over its (outbound) connector; None when there is none.

    An ERP that is inactive, has no connector (missing credentials) or is of a kind without
    feeds is logged and left unpolled.
    """
    name = erp_of(governance)
    if name is None:
        return None
    connector = outbound.get(name)
    config = governance.systems.get(name)
    if connector is None or config is None or not config.active:
        _log().warning("the ERP has no connector; it is not polled", system=name)
        return None
    if isinstance(connector, NetSuiteConnector):
        return NetSuiteFeeds(connector)
    if isinstance(connector, BusinessCentralConnector):
        location = str(config.settings.get("location") or name)
        return BusinessCentralFeeds(connector, location=location)
    _log().warning("no ERP feeds for this kind; it is not polled", system=name, kind=config.kind)
    return None


def poll_interval(governance: Governance, system: str) -> float:
    """``[systems.<system>] settings.poll_interval_s`` (default 5 s; at least 10 ms).

    Raises:
        ValueError: The setting is not a positive number.
    """
    config = governance.systems.get(system)
    raw = config.settings.get("poll_interval_s") if config is not None else None
    if raw is None:
        return DEFAULT_POLL_INTERVAL_S
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"systems.{system}.settings.poll_interval_s: not a number ({raw!r})")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"systems.{system}.settings.poll_interval_s: not a number ({raw!r})"
        ) from None
    if value <= 0:
        raise ValueError(f"systems.{system}.settings.poll_interval_s: must be positive")
    return max(value, 0.01)


@dataclass(slots=True)
class PollStats:
    """What one feed's poller did (for logs, tests and the benchmark)."""

    polls: int = 0
    failures: int = 0
    events: int = 0
    last_started: float | None = None
    """Wall-clock start (``time.time()``) of the last poll that completed."""


class ErpPoller:
    """Polls one feed of the ERP until stopped.

    Args:
        store: The hub's store (cursor and events).
        feeds: The ERP's feeds.
        feed: Which feed this poller runs.
        interval_seconds: Time between the start of two polls.
        on_appended: Called after a poll appended events (wakes the hub's readers).
        on_polled: Called with the wall-clock start of every poll that completed (what the
            ERP said then is in the log): the availability uses it to settle deferred releases.
    """

    def __init__(
        self,
        store: Store,
        feeds: ErpFeeds,
        feed: Feed,
        *,
        interval_seconds: float = DEFAULT_POLL_INTERVAL_S,
        on_appended: Callable[[], None] | None = None,
        on_polled: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.feeds = feeds
        self.feed = feed
        self.interval_seconds = interval_seconds
        self.on_appended = on_appended
        self.on_polled = on_polled
        self.stats = PollStats()
        self._stop = asyncio.Event()

    @property
    def system(self) -> str:
        """The ERP's system name."""
        return self.feeds.system

    def request_stop(self) -> None:
        """End `run` after the poll in progress."""
        self._stop.set()

    async def poll_once(self) -> list[Event]:
        """Poll once; return the events appended."""
        started = time.time()
        events = await self.feeds.poll(self.feed, self.store)
        self.stats.polls += 1
        self.stats.events += len(events)
        self.stats.last_started = started
        if events and self.on_appended is not None:
            self.on_appended()
        if self.on_polled is not None:
            await self.on_polled(started)
        return events

    async def run(self) -> None:
        """Poll every interval until `request_stop`; failures back off (capped), never end it."""
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            began = loop.time()
            try:
                await self.poll_once()
                failures = 0
                wait = self.interval_seconds - (loop.time() - began)
            except (StoreError, MappingError, ValueError) as exc:
                failures += 1
                self.stats.failures += 1
                _log().warning(
                    "erp poll failed; retrying",
                    system=self.system,
                    feed=self.feed,
                    error=str(exc),
                    failures=failures,
                )
                wait = self._backoff(failures)
            except Exception as exc:  # the ERP down, its breaker open, a bug: never end polling
                failures += 1
                self.stats.failures += 1
                _log().warning(
                    "erp poll failed; retrying",
                    system=self.system,
                    feed=self.feed,
                    error=f"{type(exc).__name__}: {exc}",
                    failures=failures,
                )
                wait = self._backoff(failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(wait, 0.0))

    def _backoff(self, failures: int) -> float:
        return min(MAX_BACKOFF_S, self.interval_seconds * 2.0 ** min(failures, 10))


def erp_pollers(
    store: Store,
    governance: Governance,
    outbound: Mapping[str, Connector],
    *,
    on_appended: Callable[[], None] | None = None,
    on_polled: Callable[[float], Awaitable[None]] | None = None,
) -> list[ErpPoller]:
    """One poller per feed of the ERP the flows name (none when there is no pollable ERP).

    `on_polled` is given to the inventory feed's poller only.

    Raises:
        ValueError: The ERP's ``poll_interval_s`` is not a positive number.
    """
    feeds = erp_feeds(governance, outbound)
    if feeds is None:
        return []
    interval = poll_interval(governance, feeds.system)
    return [
        ErpPoller(
            store,
            feeds,
            feed,
            interval_seconds=interval,
            on_appended=on_appended,
            on_polled=on_polled if feed == "inventory" else None,
        )
        for feed in FEEDS
    ]
