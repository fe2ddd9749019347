"""The EDI 3PL connector: 940s out; 945, 856, 846 and 997s in; over any `EdiTransport`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo
from typing import Any

from crossdock.canonical.order import Order
from crossdock.connectors.edi.maps import (
    FUNCTIONAL_IDS,
    InventoryAdvice,
    ShipNotice,
    ShippingAdvice,
    W12Layout,
    WarehouseShippingOrder,
    advice_to_levels,
    advice_to_shipments,
    map_940,
    notice_to_shipments,
    order_to_940,
)
from crossdock.connectors.edi.receive import Received, ReceivedSet, receive
from crossdock.connectors.edi.results import (
    EdiFailure,
    FailureKind,
    InboundSet,
    PollResult,
    SentInterchange,
)
from crossdock.connectors.edi.state import EdiLedger, SentRecord
from crossdock.connectors.edi.transport.base import EdiTransport
from crossdock.connectors.edi.x12 import (
    DEFAULT_DELIMITERS,
    ControlNumbers,
    Delimiters,
    GroupAck,
    Interchange,
    Party,
    SentGroup,
    SetBody,
    X12Error,
    build_interchange,
    match_997,
    read_x12,
    write_x12,
)
from crossdock.runtime.clock import Clock, SystemClock

InboundSink = Callable[[InboundSet], Awaitable[None]]
"""Called with each new set before it is marked processed (make it durable there)."""


@dataclass(frozen=True)
class EdiPartner:
    """One 3PL trading partnership.

    Attributes:
        us: Our ISA/GS identity.
        partner: The 3PL's ISA/GS identity.
        location: Canonical location id of the 3PL's warehouse (on shipments and levels).
        source: Canonical ``source`` of the inventory levels.
        usage: ISA15, ``P`` production or ``T`` test.
        delimiters: What we write with (we read whatever the partner declares).
        w12_layout: The partner's W12 positions (default: 004010 standard).
        tz: Time zone of the partner's dates and times.
    """

    us: Party
    partner: Party
    location: str
    source: str = "edi"
    usage: str = "P"
    delimiters: Delimiters = DEFAULT_DELIMITERS
    w12_layout: W12Layout | None = None
    tz: tzinfo = field(default=UTC)


class EdiConnector:
    """Releases orders as 940s and turns the partner's files into canonical values.

    Args:
        transport: The mailbox (drop folder or SFTP).
        partner: The partnership.
        counters: Control numbers for our interchanges, groups and sets (persist them).
        ledger: Processed keys and sent groups (persist it).
        clock: Wall time for envelopes.
    """

    def __init__(
        self,
        transport: EdiTransport,
        *,
        partner: EdiPartner,
        counters: ControlNumbers,
        ledger: EdiLedger,
        clock: Clock | None = None,
    ) -> None:
        self.transport = transport
        self.partner = partner
        self.counters = counters
        self.ledger = ledger
        self.clock = clock or SystemClock()

    # -- outbound ----------------------------------------------------------------------------

    async def release(self, orders: Sequence[Order], **options: Any) -> SentInterchange:
        """Send one 940 per canonical order, in one interchange.

        Args:
            orders: The orders to release.
            **options: Passed to `order_to_940` (``warehouse``, ``carrier``, ...).

        Raises:
            ValueError: An order cannot be released (no address, no shippable line).
        """
        return await self.send_releases([order_to_940(order, **options) for order in orders])

    async def send_releases(self, releases: Sequence[WarehouseShippingOrder]) -> SentInterchange:
        """Send release instructions as 940s, in one interchange (one group, one set each)."""
        if not releases:
            raise ValueError("nothing to release")
        bodies = [map_940(r) for r in releases]
        numbers = [r.depositor_order_number for r in releases]
        return await self._send(bodies, numbers)

    async def replay(self, replay_key: str) -> SentInterchange:
        """Resend a set the partner rejected, under new control numbers.

        Args:
            replay_key: `EdiFailure.replay_key` of a ``REJECTED_BY_PARTNER`` failure
                (``<GS01>:<GS06>:<ST02>``; an empty ST02 resends the whole group).

        Raises:
            KeyError: No sent group matches the key.
        """
        functional_id, _, rest = replay_key.partition(":")
        group_text, _, set_control = rest.partition(":")
        record = next(
            (
                r
                for r in self.ledger.sent()
                if r.group.functional_id == functional_id
                and str(r.group.control_number) == group_text
            ),
            None,
        )
        if record is None:
            raise KeyError(f"no sent group matches replay key {replay_key!r}")
        document = read_x12(record.document)
        bodies: list[SetBody] = []
        numbers: list[str] = []
        for group in document.interchanges[0].groups:
            for ts in group.sets:
                if not set_control or ts.control_number == set_control:
                    bodies.append(SetBody(ts.set_id, ts.segments))
                    numbers.append(record.order_for(ts.control_number))
        if not bodies:
            raise KeyError(f"group {group_text} holds no set {set_control!r}")
        sent = await self._send(bodies, numbers)
        self.ledger.set_status(record.group.control_number, functional_id, "replayed")
        return sent

    def overdue_acks(self, max_age: timedelta) -> tuple[EdiFailure, ...]:
        """Sent groups with no 997 after ``max_age``: one ``ACK_OVERDUE`` failure per set.

        Replay with the failure's key (`replay`) once the partner confirms it lost the file.
        """
        now = self.clock.now()
        return tuple(
            EdiFailure(
                FailureKind.ACK_OVERDUE,
                f"no 997 for {r.group.functional_id} group {r.group.control_number} "
                f"sent {r.sent_at.isoformat()} in {r.file_name}",
                f"{r.group.functional_id}:{r.group.control_number}:{control}",
                r.file_name,
                number,
            )
            for r in self.ledger.sent()
            if r.status == "sent" and r.sent_at is not None and now - r.sent_at > max_age
            for control, number in r.orders
        )

    async def _send(self, bodies: Sequence[SetBody], numbers: Sequence[str]) -> SentInterchange:
        set_id = bodies[0].set_id
        interchange = build_interchange(
            sender=self.partner.us,
            receiver=self.partner.partner,
            functional_id=FUNCTIONAL_IDS[set_id],
            sets=bodies,
            counters=self.counters,
            at=self.clock.now(),
            usage=self.partner.usage,
        )
        text = write_x12(interchange, self.partner.delimiters)
        group = interchange.groups[0]
        name = f"{set_id}-{interchange.control_number:09d}.x12"
        orders = tuple((ts.control_number, n) for ts, n in zip(group.sets, numbers, strict=True))
        # Recorded before the hand-off, so a fast 997 always finds what it acknowledges.
        record = SentRecord(
            interchange.control_number,
            _sent_group(interchange),
            name,
            orders,
            text,
            sent_at=self.clock.now(),
        )
        self.ledger.record_sent(record)
        await self.transport.put_outbound(name, text.encode("ascii"))
        return SentInterchange(
            name, interchange.control_number, group.functional_id, group.control_number, orders
        )

    # -- inbound -----------------------------------------------------------------------------

    async def poll(self, sink: InboundSink | None = None) -> PollResult:
        """Process every complete inbound file once, oldest name first.

        For each file: read it, write our 997s back, hand each new set to ``sink``, mark its
        key processed, then archive the file. A set whose key was processed before (a resend)
        is recognised and skipped. A file without a readable interchange is quarantined.
        """
        result = _Collector()
        for name in await self.transport.list_inbound():
            await self._process(name, result, sink)
        return result.freeze()

    async def _process(self, name: str, out: _Collector, sink: InboundSink | None) -> None:
        data = await self.transport.read(name)
        sent = tuple(r.group for r in self.ledger.sent())
        try:
            received = receive(
                data,
                us=self.partner.us,
                counters=self.counters,
                at=self.clock.now(),
                sent=sent,
                w12_layout=self.partner.w12_layout,
            )
        except (X12Error, ValueError) as exc:
            kept = await self.transport.quarantine(name, f"{name}: {exc}")
            out.failures.append(
                EdiFailure(FailureKind.MALFORMED_FILE, str(exc), f"error/{kept}", name)
            )
            out.files.append(name)
            return
        for ack in received.acks:
            ack_name = f"997-{ack.control_number:09d}.x12"
            await self.transport.put_outbound(ack_name, write_x12(ack).encode("ascii"))
            out.acks_sent.append(ack_name)
        keys: list[str] = []
        for rs in received.sets:
            if self.ledger.is_processed(rs.key):
                out.duplicates.append(rs.key)
                continue
            item = self._inbound(rs, received, name, out)
            if item is not None:
                if sink is not None:
                    await sink(item)
                out.sets.append(item)
            keys.append(rs.key)
        keys.extend(self._acknowledgments(received, name, sent, out))
        self.ledger.mark_processed(keys, name)
        await self.transport.archive(name)
        out.files.append(name)

    def _inbound(
        self, rs: ReceivedSet, received: Received, name: str, out: _Collector
    ) -> InboundSet | None:
        mapped = rs.mapped
        if mapped is None or mapped.value is None or not mapped.ok:
            reasons = _reasons(received, rs) or "the set cannot be mapped"
            out.failures.append(EdiFailure(FailureKind.REJECTED_INBOUND, reasons, rs.key, name))
            return None
        value = mapped.value
        p = self.partner
        try:
            if isinstance(value, ShippingAdvice):
                shipments = advice_to_shipments(value, location=p.location, tz=p.tz)
                return InboundSet(rs.key, "945", name, value, shipments=tuple(shipments))
            if isinstance(value, ShipNotice):
                shipments = notice_to_shipments(value, location=p.location, tz=p.tz)
                return InboundSet(rs.key, "856", name, value, shipments=tuple(shipments))
            assert isinstance(value, InventoryAdvice)
            levels, skipped = advice_to_levels(value, location=p.location, source=p.source, tz=p.tz)
            return InboundSet(
                rs.key, "846", name, value, levels=tuple(levels), skipped=tuple(skipped)
            )
        except ValueError as exc:
            number = value.depositor_order_number if isinstance(value, ShippingAdvice) else ""
            out.failures.append(EdiFailure(FailureKind.UNMAPPABLE, str(exc), rs.key, name, number))
            return None

    def _acknowledgments(
        self, received: Received, name: str, sent: Sequence[SentGroup], out: _Collector
    ) -> list[str]:
        """Match each new 997 of the file to what we sent; rejections become failures."""
        keys: list[str] = []
        records = self.ledger.sent()
        for ic in received.document.interchanges:
            for group in ic.groups:
                for ts in group.sets:
                    if ts.set_id != "997":
                        continue
                    key = ":".join(
                        (
                            group.sender_id,
                            str(ic.control_number),
                            str(group.control_number),
                            ts.control_number,
                        )
                    )
                    keys.append(key)
                    if self.ledger.is_processed(key):
                        out.duplicates.append(key)
                        continue
                    try:
                        ack = match_997(ts, sent)
                    except ValueError as exc:
                        out.failures.append(
                            EdiFailure(FailureKind.UNMATCHED_ACK, str(exc), key, name)
                        )
                        continue
                    self._settle(ack, key, name, records, out)
        return keys

    def _settle(
        self,
        ack: GroupAck,
        key: str,
        name: str,
        records: Sequence[SentRecord],
        out: _Collector,
    ) -> None:
        out.acknowledgments.append(ack)
        record = next(
            (
                r
                for r in records
                if r.group.control_number == ack.group_control
                and r.group.functional_id == ack.functional_id
            ),
            None,
        )
        if record is None or not ack.matched:
            reason = f"997 acknowledges {ack.functional_id} group {ack.group_control}, never sent"
            out.failures.append(EdiFailure(FailureKind.UNMATCHED_ACK, reason, key, name))
            return
        self.ledger.set_status(ack.group_control, ack.functional_id, ack.status.value)
        for failure in ack.failures():
            out.failures.append(
                EdiFailure(
                    FailureKind.REJECTED_BY_PARTNER,
                    failure.reason,
                    failure.replay_key,
                    record.file_name,
                    record.order_for(failure.set_control),
                )
            )


@dataclass
class _Collector:
    files: list[str] = field(default_factory=list)
    sets: list[InboundSet] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    acknowledgments: list[GroupAck] = field(default_factory=list)
    acks_sent: list[str] = field(default_factory=list)
    failures: list[EdiFailure] = field(default_factory=list)

    def freeze(self) -> PollResult:
        return PollResult(
            tuple(self.files),
            tuple(self.sets),
            tuple(self.duplicates),
            tuple(self.acknowledgments),
            tuple(self.acks_sent),
            tuple(self.failures),
        )


def _sent_group(interchange: Interchange) -> SentGroup:
    return SentGroup.of(interchange.groups[0])


def _reasons(received: Received, rs: ReceivedSet) -> str:
    ic, group, ts = rs.interchange_control, rs.group.control_number, rs.transaction_set
    texts = [
        x.message
        for x in received.findings
        if x.fatal
        and x.interchange_control in (None, ic)
        and x.group_control in (None, group)
        and (x.set_control in (None, ts.control_number))
    ]
    if rs.mapped is not None:
        texts.extend(x.message for x in rs.mapped.findings if x.fatal)
    return "; ".join(dict.fromkeys(texts))
