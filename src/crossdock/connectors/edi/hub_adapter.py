"""The EDI 3PL as a hub connector: commands out, inbox deliveries in, failures as dead letters.

`EdiHubConnector` puts an `EdiConnector` behind the connector kit's `Connector`, so the hub's
`WorkerPool` and `DecodeWorker` drive it like any other system:

- ``order.release`` (payload ``order``: order.v1) sends one 940 for the order. The 940's
  identity is the depositor order number (W0502 = the canonical order's number): a command
  that finds that order in the ledger already (a retry, or a crash after the file was handed
  over but before the command completed) completes without sending a second 940.
- ``edi.resend`` records an `EdiFailure` (see `failure_command`). The command as first
  enqueued is refused at once with the failure's reason, so it lands in the dead-letter list;
  only an operator's replay of it (the store names the replay ``<key>~replay<n>``) resends the
  set under new control numbers (`EdiConnector.replay`), once.
- ``decode`` turns an inbox delivery holding one received set (`set_delivery`) into canonical
  ``shipment.updated`` (945, 856) and ``inventory.changed`` (846) events, with event ids derived
  from the set key so a decode run twice appends nothing new.

EDI arrives as files, never as webhooks: `verify` refuses every HTTP delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final

from pydantic import ValidationError

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.order import OrderTotalsMismatch, parse_order
from crossdock.canonical.shipment import Shipment
from crossdock.connectorkit import Connector, PermanentFailureError, RetryLaterError, handles
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.edi.connector import EdiConnector
from crossdock.connectors.edi.maps import (
    InventoryAdvice,
    ShipNotice,
    ShippingAdvice,
    advice_to_levels,
    advice_to_shipments,
    map_inbound,
    notice_to_shipments,
)
from crossdock.connectors.edi.results import EdiFailure, FailureKind, InboundSet, SentInterchange
from crossdock.connectors.edi.state import SentRecord
from crossdock.connectors.edi.x12 import X12Error, read_x12, write_x12

__all__ = [
    "FILE_HEADER",
    "REPLAY_MARK",
    "RESENDABLE",
    "RESEND_COMMAND",
    "SET_ID_HEADER",
    "SET_KEY_HEADER",
    "EdiHubConnector",
    "failure_command",
    "failure_key",
    "set_delivery",
    "single_set_text",
]

RELEASE_COMMAND: Final = "order.release"
RESEND_COMMAND: Final = "edi.resend"
REPLAY_MARK: Final = "~replay"
"""What the store appends to a replayed command's idempotency key (``<key>~replay<n>``)."""
SET_KEY_HEADER: Final = "x-edi-set-key"
SET_ID_HEADER: Final = "x-edi-set-id"
FILE_HEADER: Final = "x-edi-file"
RESENDABLE: Final = frozenset({FailureKind.REJECTED_BY_PARTNER, FailureKind.ACK_OVERDUE})
"""Failure kinds a replay fixes by resending our set; the others need the partner to resend."""
_EVENT_NAMESPACE: Final = uuid.UUID("6f1d3a52-4c0e-5e8a-9b7e-2d9c8e0b7a41")


def failure_key(system: str, failure: EdiFailure) -> str:
    """The idempotency key of a failure's dead letter: one per system, kind and replay key."""
    return f"edi:{system}:{failure.kind.value}:{failure.replay_key}"


def failure_command(
    system: str, failure: EdiFailure, *, correlation_id: str | None = None
) -> Command:
    """The ``edi.resend`` command that records `failure` (see the module docstring).

    Its first attempt is refused with the failure's reason (a dead letter); an operator's
    replay performs it. The same failure reported twice (an overdue ack seen at every poll)
    maps to the same key, so it is recorded once.
    """
    return Command(
        idempotency_key=failure_key(system, failure),
        destination=system,
        kind=RESEND_COMMAND,
        payload={
            "replay_key": failure.replay_key,
            "kind": failure.kind.value,
            "reason": failure.reason,
            "file_name": failure.file_name,
            "order_number": failure.order_number,
        },
        max_attempts=3,
        correlation_id=correlation_id,
    )


def single_set_text(data: bytes | str, key: str) -> str:
    """The received set with key ``<ISA06>:<ISA13>:<GS06>:<ST02>``, alone in its envelopes.

    The interchange and group headers are the partner's own; only the other sets are left
    out, so the text reads back to the same key and the same values.

    Raises:
        KeyError: No set of ``data`` has that key.
    """
    document = read_x12(data)
    for ic, delimiters in zip(document.interchanges, document.delimiters, strict=True):
        for group in ic.groups:
            for ts in group.sets:
                found = f"{group.sender_id}:{ic.control_number}:{group.control_number}:"
                if found + ts.control_number == key:
                    single = replace(ic, groups=(replace(group, sets=(ts,)),))
                    return write_x12(single, delimiters)
    raise KeyError(f"no set with key {key!r} in the file")


def set_delivery(
    source: str, data: bytes | str, item: InboundSet, *, correlation_id: str = ""
) -> Delivery:
    """The inbox delivery of one received set (dedupe key: the set's idempotency key)."""
    headers = {SET_KEY_HEADER: item.key, SET_ID_HEADER: item.set_id, FILE_HEADER: item.file_name}
    body = single_set_text(data, item.key).encode("utf-8")
    return Delivery(source, item.key, body, headers, correlation_id)


class EdiHubConnector(Connector):
    """An `EdiConnector` as the hub's connector for one EDI system.

    Args:
        http: The hub's HTTP seam (unused: EDI travels as files; kept for the kit's base).
        edi: The EDI connector (transport, partnership, control numbers, ledger).
        destination: The system's name in the governance file (command destination and the
            inbox source of its sets).
        release_options: Passed to `order_to_940` on every release (``warehouse``, ...).
        poll_interval_s: How often the hub polls the mailbox.
        ack_overdue: When a sent group without a 997 is reported (None: never).
    """

    system = "edi"

    def __init__(
        self,
        *,
        http: HttpClient,
        edi: EdiConnector,
        destination: str | None = None,
        release_options: Mapping[str, Any] | None = None,
        poll_interval_s: float = 30.0,
        ack_overdue: timedelta | None = timedelta(hours=4),
    ) -> None:
        super().__init__(http=http, destination=destination, clock=edi.clock)
        self.edi = edi
        self.release_options = dict(release_options or {})
        self.poll_interval_s = poll_interval_s
        self.ack_overdue = ack_overdue

    # ---- inbound ---------------------------------------------------------------------------

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Always False: EDI sets arrive through the mailbox poller, never over HTTP."""
        return False

    async def decode(self, delivery: Delivery) -> list[Event]:
        """Canonical events of one received set (`set_delivery`'s body).

        Raises:
            ValueError: The body is not one readable, mappable 945, 856 or 846.
        """
        try:
            document = read_x12(delivery.body)
        except X12Error as exc:
            raise ValueError(f"not an X12 interchange: {exc}") from exc
        events: list[Event] = []
        p = self.edi.partner
        for ic in document.interchanges:
            for group in ic.groups:
                for ts in group.sets:
                    key = f"{group.sender_id}:{ic.control_number}:{group.control_number}:"
                    key += ts.control_number
                    mapped = map_inbound(
                        ts,
                        interchange=ic.control_number,
                        group=group.control_number,
                        w12_layout=p.w12_layout,
                    )
                    if mapped is None or mapped.value is None or not mapped.ok:
                        raise ValueError(f"set {key} ({ts.set_id}) cannot be mapped")
                    value = mapped.value
                    if isinstance(value, ShippingAdvice):
                        shipments = advice_to_shipments(value, location=p.location, tz=p.tz)
                        events += self._shipment_events(key, shipments, delivery)
                    elif isinstance(value, ShipNotice):
                        shipments = notice_to_shipments(value, location=p.location, tz=p.tz)
                        events += self._shipment_events(key, shipments, delivery)
                    else:
                        assert isinstance(value, InventoryAdvice)
                        levels, _ = advice_to_levels(
                            value, location=p.location, source=p.source, tz=p.tz
                        )
                        events += self._level_events(key, levels, delivery)
        if not events and not document.interchanges:
            raise ValueError("the delivery holds no interchange")
        return events

    def _shipment_events(
        self, key: str, shipments: list[Shipment], delivery: Delivery
    ) -> list[Event]:
        return [
            Event(
                id=_event_id(self.destination, key, "shipment", str(index)),
                source=f"crossdock:{self.destination}",
                type=EventType.SHIPMENT_UPDATED.value,
                subject=f"{self.destination}:shipment:{s.order}:{s.tracking_number or index}",
                dataschema=dataschema_for(EventType.SHIPMENT_UPDATED.value),
                correlationid=delivery.correlation_id or key,
                data=s.model_dump(mode="json"),
                **({"time": s.shipped_at} if s.shipped_at is not None else {}),
            )
            for index, s in enumerate(shipments)
        ]

    def _level_events(
        self, key: str, levels: list[InventoryLevel], delivery: Delivery
    ) -> list[Event]:
        return [
            Event(
                id=_event_id(self.destination, key, "level", level.sku),
                source=f"crossdock:{self.destination}",
                type=EventType.INVENTORY_CHANGED.value,
                subject=f"{level.sku}@{level.location}",
                dataschema=dataschema_for(EventType.INVENTORY_CHANGED.value),
                correlationid=delivery.correlation_id or key,
                data=level.model_dump(mode="json"),
                time=level.as_of,
            )
            for level in levels
        ]

    # ---- outbound --------------------------------------------------------------------------

    @handles(RELEASE_COMMAND)
    async def release_order(self, command: Command) -> JSONObject:
        """Send the order's 940, unless the ledger shows it was sent already.

        Raises:
            PermanentFailureError: The payload holds no valid order, or the order cannot be
                released (no address, no shippable line).
            RetryLaterError: The mailbox cannot be written now.
        """
        raw = command.payload.get("order")
        if not isinstance(raw, dict):
            raise PermanentFailureError(f"{RELEASE_COMMAND} needs an order (order.v1 object)")
        try:
            order = parse_order(raw)
        except (ValidationError, OrderTotalsMismatch) as exc:
            raise PermanentFailureError(
                "the order is not a valid order.v1", detail=str(exc)
            ) from exc
        number = order.number
        sent = self._sent_for(number)
        if sent is not None:
            return _record_result(sent, number) | {"already": True}
        try:
            done = await self.edi.release([order], **self.release_options)
        except ValueError as exc:
            raise PermanentFailureError(
                f"order {number} cannot be released", detail=str(exc)
            ) from exc
        except OSError as exc:
            raise RetryLaterError(f"the EDI mailbox cannot be written: {exc}") from exc
        return _sent_result(done) | {"order_number": number}

    @handles(RESEND_COMMAND)
    async def resend(self, command: Command) -> JSONObject:
        """Refuse a failure record (dead letter); on an operator's replay, resend the set.

        Raises:
            PermanentFailureError: The command records a failure (first enqueue), the failure
                cannot be fixed by resending, or the ledger no longer holds the set.
            RetryLaterError: The mailbox cannot be written now.
        """
        payload = command.payload
        reason = str(payload.get("reason") or "EDI failure")
        kind = str(payload.get("kind") or "")
        if REPLAY_MARK not in command.idempotency_key:
            raise PermanentFailureError(f"{kind}: {reason}" if kind else reason)
        if kind not in {k.value for k in RESENDABLE}:
            return {
                "resolved": True,
                "kind": kind,
                "note": "nothing to resend from here: the partner must send the set again",
            }
        replay_key = str(payload.get("replay_key") or "")
        original = self._record_for(replay_key)
        if original is None:
            raise PermanentFailureError(f"no sent group matches replay key {replay_key!r}")
        resent = self._resent(original, replay_key)
        if resent is not None:
            return _record_result(resent, "") | {"already": True, "replay_of": replay_key}
        try:
            done = await self.edi.replay(replay_key)
        except KeyError as exc:
            raise PermanentFailureError(str(exc.args[0] if exc.args else exc)) from exc
        except OSError as exc:
            raise RetryLaterError(f"the EDI mailbox cannot be written: {exc}") from exc
        return _sent_result(done) | {"replay_of": replay_key}

    def _sent_for(self, order_number: str) -> SentRecord | None:
        return next(
            (r for r in self.edi.ledger.sent() if any(n == order_number for _, n in r.orders)),
            None,
        )

    def _record_for(self, replay_key: str) -> SentRecord | None:
        functional_id, _, rest = replay_key.partition(":")
        group_text = rest.partition(":")[0]
        return next(
            (
                r
                for r in self.edi.ledger.sent()
                if r.group.functional_id == functional_id
                and str(r.group.control_number) == group_text
            ),
            None,
        )

    def _resent(self, original: SentRecord, replay_key: str) -> SentRecord | None:
        """A group sent after ``original`` carrying the same orders: the replay happened.

        The ledger records a group before its file is handed over, so a crash between the two
        is seen here as sent (an overdue 997 then reports it, replayable in turn).
        """
        set_control = replay_key.split(":", 2)[2] if replay_key.count(":") >= 2 else ""
        wanted = {n for c, n in original.orders if n and (not set_control or c == set_control)}
        if not wanted:
            return None
        records = self.edi.ledger.sent()
        later = records[records.index(original) + 1 :] if original in records else ()
        return next((r for r in later if wanted <= {n for _, n in r.orders}), None)


def _event_id(system: str, key: str, what: str, part: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{system}:{key}:{what}:{part}"))


def _sent_result(sent: SentInterchange) -> JSONObject:
    return {
        "file_name": sent.file_name,
        "interchange_control": sent.interchange_control,
        "functional_id": sent.functional_id,
        "group_control": sent.group_control,
        "sets": [list(s) for s in sent.sets],
    }


def _record_result(record: SentRecord, order_number: str) -> JSONObject:
    out: JSONObject = {
        "file_name": record.file_name,
        "interchange_control": record.interchange_control,
        "functional_id": record.group.functional_id,
        "group_control": record.group.control_number,
        "sets": [list(o) for o in record.orders],
    }
    if order_number:
        out["order_number"] = order_number
    return out
