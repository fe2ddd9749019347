"""Build outgoing interchanges: envelopes, dates and control numbers from a counter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crossdock.connectors.edi.x12.control import ControlNumbers, format_set_control
from crossdock.connectors.edi.x12.envelope import (
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)


@dataclass(frozen=True)
class Party:
    """A trading partner as the ISA names it (qualifier + id); GS uses ``application_id``.

    Attributes:
        qualifier: ISA05/ISA07 qualifier, e.g. ``ZZ`` mutually defined, ``01`` DUNS.
        id: ISA06/ISA08 id (at most 15 characters).
        application_id: GS02/GS03 application code; defaults to ``id``.
    """

    qualifier: str
    id: str
    application_id: str = ""

    @property
    def gs_id(self) -> str:
        """The id used in GS02/GS03."""
        return self.application_id or self.id


@dataclass(frozen=True)
class SetBody:
    """One transaction set to send: its id (``940``) and its body segments (no ST/SE)."""

    set_id: str
    segments: Sequence[Segment]


def build_interchange(
    *,
    sender: Party,
    receiver: Party,
    functional_id: str,
    sets: Sequence[SetBody],
    counters: ControlNumbers,
    at: datetime,
    usage: str = "P",
    ack_requested: bool = False,
    version: str = "004010",
) -> Interchange:
    """Wrap set bodies in ST/SE, one GS/GE and an ISA/IEA, numbering them from ``counters``.

    Args:
        sender: Who we are.
        receiver: The trading partner.
        functional_id: GS01, e.g. ``OW`` for 940s, ``FA`` for 997s.
        sets: The transaction sets, in order.
        counters: Source of ISA13, GS06 and ST02.
        at: Interchange date and time (ISA09/10, GS04/05).
        usage: ISA15, ``P`` production or ``T`` test.
        ack_requested: ISA14 (TA1 requested).
        version: GS08; ISA12 is derived from it (``004010`` -> ``00401``).
    """
    group = FunctionalGroup(
        functional_id=functional_id,
        sender_id=sender.gs_id,
        receiver_id=receiver.gs_id,
        date=at.strftime("%Y%m%d"),
        time=at.strftime("%H%M"),
        control_number=counters.next_group(),
        sets=tuple(
            TransactionSet(
                body.set_id, format_set_control(counters.next_set()), tuple(body.segments)
            )
            for body in sets
        ),
        version=version,
    )
    return Interchange(
        sender_qualifier=sender.qualifier,
        sender_id=sender.id,
        receiver_qualifier=receiver.qualifier,
        receiver_id=receiver.id,
        date=at.strftime("%y%m%d"),
        time=at.strftime("%H%M"),
        control_number=counters.next_interchange(),
        groups=(group,),
        version=version[:5],
        ack_requested="1" if ack_requested else "0",
        usage=usage,
    )
