"""Change Data Capture over CometD long polling: subscribe, decode, resume without loss.

`ChangeSubscriber` handshakes with ``/cometd/<version>``, subscribes to the change channels
with the replay extension (each channel resumes from the replay id its `ReplayStore` holds),
and long-polls ``/meta/connect``. Each change event is handled in replay order:

- an echo of the hub's own write (``changeOrigin`` names the connector's client id) is
  dropped;
- a ``GAP_*`` event (the change itself was not captured) and any CREATE, UPDATE or UNDELETE
  make the subscriber re-read the records through the REST API;
- the Account (with its Contacts) becomes a canonical ``customer.upserted`` event.

The events decoded from one change event and its replay id are committed together, so a
restart at any point resumes right after the last committed change: nothing lost, nothing
repeated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import AuthFailedError, RetryLaterError
from crossdock.connectorkit.http import HttpRequest, HttpResponse, HttpTransportError
from crossdock.connectors.salesforce.connector import SalesforceConnector, soql_literal
from crossdock.connectors.salesforce.records import customer_from_records
from crossdock.connectors.salesforce.replay import ReplayId, ReplayStore

__all__ = [
    "ACCOUNT_CHANNELS",
    "ChangeEvent",
    "ChangeSubscriber",
    "DecodeError",
    "StreamingError",
    "is_echo",
    "parse_change",
]

ACCOUNT_CHANNELS: Final = ("/data/AccountChangeEvent", "/data/ContactChangeEvent")
"""The channels that carry B2B account changes."""
NEW_EVENTS: Final = -1
ALL_RETAINED: Final = -2
CONTACT_FIELDS: Final = "Id, AccountId, FirstName, LastName, Email, Phone, Title"


class DecodeError(ValueError):
    """A streaming message that is not a change event."""


class StreamingError(RetryLaterError):
    """The streaming endpoint refused a handshake, subscription or connect; retry later."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change event as delivered.

    Attributes:
        channel: The channel it came on.
        replay_id: Its replay id (opaque).
        entity: ``Account``, ``Contact``...
        record_ids: The changed records.
        change_type: ``CREATE``, ``UPDATE``, ``DELETE``, ``UNDELETE`` or ``GAP_*``.
        change_origin: ``com/salesforce/api/rest/62.0;client=<id>`` or empty.
        commit_timestamp: Milliseconds since the epoch.
        changed_fields: ``changedFields``.
        payload: The whole payload (header included).
    """

    channel: str
    replay_id: ReplayId
    entity: str
    record_ids: tuple[str, ...]
    change_type: str
    change_origin: str
    commit_timestamp: int | None
    changed_fields: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_gap(self) -> bool:
        """Whether this is a gap event (re-read the records)."""
        return self.change_type.startswith("GAP_")


def parse_change(message: Mapping[str, Any]) -> ChangeEvent:
    """Read a CometD data message ``{"channel", "data": {"payload", "event": {"replayId"}}}``.

    Raises:
        DecodeError: It has no replay id or no ``ChangeEventHeader``.
    """
    data = message.get("data")
    if not isinstance(data, Mapping):
        raise DecodeError("a change event message needs data")
    event = data.get("event")
    payload = data.get("payload")
    if not isinstance(event, Mapping) or "replayId" not in event:
        raise DecodeError("a change event message needs data.event.replayId")
    if not isinstance(payload, Mapping):
        raise DecodeError("a change event message needs data.payload")
    header = payload.get("ChangeEventHeader")
    if not isinstance(header, Mapping) or not isinstance(header.get("entityName"), str):
        raise DecodeError("a change event payload needs ChangeEventHeader.entityName")
    timestamp = header.get("commitTimestamp")
    return ChangeEvent(
        channel=str(message.get("channel", "")),
        replay_id=event["replayId"],
        entity=header["entityName"],
        record_ids=tuple(str(i) for i in header.get("recordIds") or ()),
        change_type=str(header.get("changeType", "")),
        change_origin=str(header.get("changeOrigin") or ""),
        commit_timestamp=int(timestamp) if isinstance(timestamp, int) else None,
        changed_fields=tuple(str(f) for f in header.get("changedFields") or ()),
        payload=payload,
    )


def is_echo(change: ChangeEvent, client_id: str) -> bool:
    """Whether ``changeOrigin`` carries ``client=<client_id>`` (the hub's own write)."""
    _, _, options = change.change_origin.partition(";")
    for option in options.split(";"):
        key, _, value = option.strip().partition("=")
        if key == "client" and value == client_id:
            return True
    return False


@dataclass
class SubscriberStats:
    """What the subscriber did, for tests and metrics."""

    handled: int = 0
    echoes: int = 0
    gaps: int = 0
    rereads: int = 0
    deletes: int = 0
    resubscribed_from_all: list[str] = field(default_factory=list)


class ChangeSubscriber:
    """Long-polls Change Data Capture and commits canonical events with their replay ids.

    Args:
        connector: The Salesforce connector (its HTTP seam, auth, instance and client id; the
            re-reads go through its REST pipeline and budget).
        replay_store: Where replay ids and decoded events are committed.
        channels: The channels to follow (default: Account and Contact changes).
        start: Where a channel never seen before starts: -1 new events only, -2 all retained.
        poll_timeout: Seconds a ``/meta/connect`` may be held by the server.
        source: The canonical events' ``source`` (default: the connector's destination).
    """

    def __init__(
        self,
        connector: SalesforceConnector,
        replay_store: ReplayStore,
        *,
        channels: Sequence[str] = ACCOUNT_CHANNELS,
        start: int = NEW_EVENTS,
        poll_timeout: float = 110.0,
        source: str | None = None,
    ) -> None:
        self.connector = connector
        self.replay_store = replay_store
        self.channels = tuple(channels)
        self.start = start
        self.poll_timeout = poll_timeout
        self.source = source or connector.destination
        self.stats = SubscriberStats()
        self._client_id: str | None = None
        self._message_id = 0
        self._backlog: list[dict[str, Any]] = []

    # ---- Bayeux ----------------------------------------------------------------------------

    async def _endpoint(self) -> str:
        return f"{await self.connector.instance()}/cometd/{self.connector.api_version}"

    def _next_id(self) -> str:
        self._message_id += 1
        return str(self._message_id)

    async def _post(self, messages: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:  # noqa: ASYNC109
        http = self.connector.http
        for attempt in range(2):
            request: HttpRequest = http.build_request(
                "POST", await self._endpoint(), json=messages, timeout=timeout, idempotent=True
            )
            request = await self.connector.auth.apply(request)
            try:
                response: HttpResponse = await http.send(request)
            except HttpTransportError as exc:
                raise StreamingError(f"streaming endpoint unreachable: {exc}") from exc
            replies = response.json_or_none()
            denied = response.status == 401 or _auth_denied(replies)
            if denied and attempt == 0 and await self.connector.auth.on_unauthorized(request):
                if messages and messages[0].get("channel") == "/meta/connect":
                    raise _Rehandshake  # the long poll's session is gone: start a new one
                continue
            if denied:
                raise AuthFailedError("the streaming endpoint refused the session")
            if not isinstance(replies, list):
                raise StreamingError(f"streaming endpoint answered HTTP {response.status}")
            return [r for r in replies if isinstance(r, dict)]
        raise AuthFailedError("the streaming endpoint refused the session")

    async def open(self) -> None:
        """Handshake and subscribe every channel from its committed replay id."""
        self._backlog.clear()  # the new subscriptions deliver it again
        replies = await self._post(
            [
                {
                    "channel": "/meta/handshake",
                    "id": self._next_id(),
                    "version": "1.0",
                    "minimumVersion": "1.0",
                    "supportedConnectionTypes": ["long-polling"],
                    "ext": {"replay": True},
                }
            ],
            timeout=30.0,
        )
        handshake = _meta(replies, "/meta/handshake")
        if not handshake.get("successful") or not handshake.get("clientId"):
            raise StreamingError(f"handshake refused: {handshake.get('error')}")
        self._client_id = str(handshake["clientId"])
        for channel in self.channels:
            await self._subscribe(channel)

    async def _subscribe(self, channel: str) -> None:
        stored = await self.replay_store.load(channel)
        replay = stored if stored is not None else self.start
        reply = await self._subscribe_from(channel, replay)
        if not reply.get("successful") and "replayId" in str(reply.get("error", "")):
            # The stored position is past the retention: take every retained event and say so;
            # changes older than the retention can only be recovered by a full re-read.
            self.stats.resubscribed_from_all.append(channel)
            reply = await self._subscribe_from(channel, ALL_RETAINED)
        if not reply.get("successful"):
            raise StreamingError(f"subscribe to {channel} refused: {reply.get('error')}")

    async def _subscribe_from(self, channel: str, replay: ReplayId) -> dict[str, Any]:
        replies = await self._post(
            [
                {
                    "channel": "/meta/subscribe",
                    "id": self._next_id(),
                    "clientId": self._client_id,
                    "subscription": channel,
                    "ext": {"replay": {channel: replay}},
                }
            ],
            timeout=30.0,
        )
        return _meta(replies, "/meta/subscribe")

    async def poll(self) -> list[Event]:
        """One ``/meta/connect`` round: handle what arrived, in order; return the committed
        canonical events.

        Messages received but not yet committed (a re-read refused by the daily allocation,
        the org unreachable) stay in order in memory and are handled first on the next
        call; the error propagates so that the caller waits. A new session (after a restart
        or a lost client) resubscribes from the committed replay ids instead.
        """
        if self._client_id is None:
            await self.open()
        if not self._backlog:
            await self._connect()
        committed: list[Event] = []
        while self._backlog:
            committed.extend(await self._handle(self._backlog[0]))
            self._backlog.pop(0)
        return committed

    async def _connect(self) -> None:
        message = {
            "channel": "/meta/connect",
            "id": self._next_id(),
            "clientId": self._client_id,
            "connectionType": "long-polling",
            "advice": {"timeout": int(self.poll_timeout * 1000)},
        }
        try:
            replies = await self._post([message], timeout=self.poll_timeout + 15.0)
        except _Rehandshake:
            self._client_id = None
            return
        for reply in replies:
            channel = str(reply.get("channel", ""))
            if not channel.startswith("/meta/"):
                self._backlog.append(reply)
            elif channel == "/meta/connect" and not reply.get("successful"):
                self._client_id = None  # unknown client or session: handshake again

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set.

        A failure while handling a change (the daily allocation used up during a re-read,
        the org unreachable) propagates: call `run` or `poll` again later and the stream
        goes on from the first change not committed, losing nothing.
        """
        while not stop.is_set():
            await self.poll()

    async def close(self) -> None:
        """Disconnect (best effort)."""
        if self._client_id is None:
            return
        message = {
            "channel": "/meta/disconnect",
            "id": self._next_id(),
            "clientId": self._client_id,
        }
        self._client_id = None
        try:
            await self._post([message], timeout=10.0)
        except (RetryLaterError, AuthFailedError):
            return

    # ---- decoding --------------------------------------------------------------------------

    async def _handle(self, message: Mapping[str, Any]) -> list[Event]:
        change = parse_change(message)
        events = await self.decode(change)
        await self.replay_store.commit(change.channel, change.replay_id, events)
        self.stats.handled += 1
        return events

    async def decode(self, change: ChangeEvent) -> list[Event]:
        """The canonical events of one change event (none for echoes and deletions)."""
        if is_echo(change, self.connector.client_id):
            self.stats.echoes += 1
            return []
        if change.is_gap:
            self.stats.gaps += 1
        elif change.change_type == "DELETE":
            self.stats.deletes += 1
            return []
        account_ids = await self._accounts_of(change)
        events = []
        for account_id in account_ids:
            event = await self._customer_event(account_id, change)
            if event is not None:
                events.append(event)
        return events

    async def _accounts_of(self, change: ChangeEvent) -> list[str]:
        ids = [i for i in change.record_ids if "*" not in i]
        if change.entity == "Account":
            return ids
        if change.entity != "Contact" or not ids:
            return []
        quoted = ", ".join(soql_literal(i) for i in ids)
        rows = await self.connector.query(
            f"SELECT Id, AccountId FROM Contact WHERE Id IN ({quoted})"  # noqa: S608 - escaped
        )
        return sorted({str(r["AccountId"]) for r in rows if r.get("AccountId")})

    async def _customer_event(self, account_id: str, change: ChangeEvent) -> Event | None:
        self.stats.rereads += 1
        account = await self.connector.get_record("Account", account_id)
        if account is None:
            return None
        contacts = await self.connector.query(
            f"SELECT {CONTACT_FIELDS} FROM Contact "  # noqa: S608 - SOQL, value escaped
            f"WHERE AccountId = {soql_literal(account_id)}"
        )
        customer = customer_from_records(account, contacts)
        kind = EventType.CUSTOMER_UPSERTED.value
        extra: dict[str, Any] = {}
        if change.commit_timestamp is not None:
            extra["time"] = datetime.fromtimestamp(change.commit_timestamp / 1000, UTC)
        return Event(
            source=self.source,
            type=kind,
            subject=f"salesforce:Account:{account_id}",
            dataschema=dataschema_for(kind),
            correlationid=new_id(),
            data=customer.model_dump(mode="json"),
            **extra,
        )


class _Rehandshake(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The session was refreshed: the Bayeux client must handshake again."""


def _auth_denied(replies: Any) -> bool:
    if not isinstance(replies, list):
        return False
    return any(
        isinstance(r, dict)
        and not r.get("successful", True)
        and str(r.get("error", "")).startswith(("401::", "403::Handshake denied"))
        for r in replies
    )


def _meta(replies: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    for reply in replies:
        if reply.get("channel") == channel:
            return reply
    raise StreamingError(f"no {channel} reply")
