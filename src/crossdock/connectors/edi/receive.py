"""One call for an inbound file: read, check, map, acknowledge, and read any 997s in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crossdock.connectors.edi.maps import Inbound, Mapped, W12Layout, map_inbound
from crossdock.connectors.edi.x12.ack997 import ACK_FUNCTIONAL_ID, acknowledge
from crossdock.connectors.edi.x12.ack_match import GroupAck, SentGroup, match_997
from crossdock.connectors.edi.x12.builder import Party
from crossdock.connectors.edi.x12.control import ControlNumbers
from crossdock.connectors.edi.x12.envelope import FunctionalGroup, Interchange, TransactionSet
from crossdock.connectors.edi.x12.findings import Finding, Level
from crossdock.connectors.edi.x12.reader import Document, read_x12


@dataclass(frozen=True)
class ReceivedSet:
    """One received business set with its envelope ids and what its map made of it."""

    interchange_control: int
    group: FunctionalGroup
    transaction_set: TransactionSet
    mapped: Mapped[Inbound] | None

    @property
    def key(self) -> str:
        """Idempotency key: ``<ISA06>:<ISA13>:<GS06>:<ST02>``."""
        return (
            f"{self.group.sender_id}:{self.interchange_control}:"
            f"{self.group.control_number}:{self.transaction_set.control_number}"
        )


@dataclass(frozen=True)
class Received:
    """Everything made of one inbound file.

    Attributes:
        document: The tree and envelope findings.
        sets: Business sets (not 997s), each mapped when a map exists.
        findings: Envelope and schema findings together.
        acks: Our 997 interchanges to send back (one per received interchange with non-FA groups).
        acknowledgments: Received 997s matched to what we sent.
    """

    document: Document
    sets: tuple[ReceivedSet, ...]
    findings: tuple[Finding, ...]
    acks: tuple[Interchange, ...]
    acknowledgments: tuple[GroupAck, ...]


def receive(
    data: str | bytes,
    *,
    us: Party,
    counters: ControlNumbers,
    at: datetime,
    sent: tuple[SentGroup, ...] = (),
    w12_layout: W12Layout | None = None,
) -> Received:
    """Read an inbound file and produce the 997s it calls for.

    Raises:
        X12EnvelopeError: No readable ISA (quarantine the file; nothing can be acknowledged).
    """
    document = read_x12(data)
    findings = list(document.findings)
    sets: list[ReceivedSet] = []
    acks_in: list[GroupAck] = []
    for ic in document.interchanges:
        for group in ic.groups:
            for ts in group.sets:
                if group.functional_id == ACK_FUNCTIONAL_ID and ts.set_id == "997":
                    try:
                        acks_in.append(match_997(ts, sent))
                    except ValueError as exc:
                        findings.append(_bad_997(ic, group, ts, str(exc)))
                    continue
                if _rejected(document, ic, group, ts):
                    sets.append(ReceivedSet(ic.control_number, group, ts, Mapped(None)))
                    continue
                mapped = map_inbound(
                    ts,
                    interchange=ic.control_number,
                    group=group.control_number,
                    w12_layout=w12_layout,
                )
                if mapped is None:
                    findings.append(_unsupported(ic, group, ts))
                else:
                    findings.extend(mapped.findings)
                sets.append(ReceivedSet(ic.control_number, group, ts, mapped))
    acks = []
    for ic in document.interchanges:
        ack = acknowledge(ic, findings, us=us, counters=counters, at=at)
        if ack is not None:
            acks.append(ack)
    return Received(document, tuple(sets), tuple(findings), tuple(acks), tuple(acks_in))


def _unsupported(ic: Interchange, group: FunctionalGroup, ts: TransactionSet) -> Finding:
    return Finding(
        Level.SET,
        "1",
        f"transaction set {ts.set_id} is not supported here",
        interchange_control=ic.control_number,
        group_control=group.control_number,
        set_control=ts.control_number,
        set_id=ts.set_id,
    )


def _rejected(doc: Document, ic: Interchange, group: FunctionalGroup, ts: TransactionSet) -> bool:
    """True when an envelope finding rejects the set or its whole group (nothing is mapped)."""
    for x in doc.findings_for(ic, group):
        if x.fatal and (x.level is Level.GROUP or x.set_control == ts.control_number):
            return True
    return False


def _bad_997(ic: Interchange, group: FunctionalGroup, ts: TransactionSet, why: str) -> Finding:
    return Finding(
        Level.SEGMENT,
        "3",
        f"received 997 cannot be matched: {why}",
        interchange_control=ic.control_number,
        group_control=group.control_number,
        set_control=ts.control_number,
        set_id=ts.set_id,
        segment_id="AK1",
    )
