"""Values the EDI connector hands back: what it sent, what it read, and what failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from crossdock.canonical.inventory import InventoryLevel
from crossdock.canonical.shipment import Shipment
from crossdock.connectors.edi.maps import Inbound, Skipped
from crossdock.connectors.edi.x12 import GroupAck


@dataclass(frozen=True)
class SentInterchange:
    """One interchange we handed to the partner.

    Attributes:
        file_name: The outbound file name.
        interchange_control: ISA13.
        functional_id: GS01.
        group_control: GS06.
        sets: Each set's (ST02, depositor order number).
    """

    file_name: str
    interchange_control: int
    functional_id: str
    group_control: int
    sets: tuple[tuple[str, str], ...]


class FailureKind(StrEnum):
    """Why something did not go through."""

    REJECTED_BY_PARTNER = "rejected_by_partner"
    """The partner's 997 rejected a set or group we sent (replay: `EdiConnector.replay`)."""
    ACK_OVERDUE = "ack_overdue"
    """No 997 came back for a group we sent within the agreed time (replay: `replay`)."""
    UNMATCHED_ACK = "unmatched_ack"
    """A 997 names a group we have no record of sending, or cannot be read."""
    MALFORMED_FILE = "malformed_file"
    """An inbound file with no readable interchange; kept in the error directory."""
    REJECTED_INBOUND = "rejected_inbound"
    """A received set we rejected in our 997 (the partner must resend it corrected)."""
    UNMAPPABLE = "unmappable"
    """A received set that read fine but has no canonical form (e.g. a fractional quantity)."""


@dataclass(frozen=True)
class EdiFailure:
    """A visible failure, ready to be dead-lettered with its reason and replayed by its key.

    Attributes:
        kind: What went wrong.
        reason: Every reason known, in words.
        replay_key: For ``REJECTED_BY_PARTNER`` and ``ACK_OVERDUE``: ``<GS01>:<GS06>:<ST02>``
            of the set to resend;
            for inbound failures: the set key ``<sender>:<ISA13>:<GS06>:<ST02>``; for a
            malformed file: ``error/<kept name>``.
        file_name: The file concerned (inbound name, or our outbound name).
        order_number: The depositor order number concerned, when known.
    """

    kind: FailureKind
    reason: str
    replay_key: str
    file_name: str
    order_number: str = ""


@dataclass(frozen=True)
class InboundSet:
    """One received business set and its canonical values.

    Attributes:
        key: ``<sender>:<ISA13>:<GS06>:<ST02>``, the idempotency key of the set.
        set_id: ``945``, ``856`` or ``846``.
        file_name: The inbound file it came in.
        value: The mapped document (`ShippingAdvice`, `ShipNotice` or `InventoryAdvice`).
        shipments: Canonical shipments (945, 856).
        levels: Canonical inventory levels (846).
        skipped: What the 846 reported that has no canonical place.
    """

    key: str
    set_id: str
    file_name: str
    value: Inbound
    shipments: tuple[Shipment, ...] = ()
    levels: tuple[InventoryLevel, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class PollResult:
    """Everything one poll of the inbound directory produced.

    Attributes:
        files: Inbound files handled (archived or quarantined).
        sets: New business sets with their canonical values.
        duplicates: Keys of sets (and 997s) already processed before: a resend, absorbed.
        acknowledgments: Received 997s matched to what we sent.
        acks_sent: Names of the 997 files we wrote back.
        failures: Everything that did not go through.
    """

    files: tuple[str, ...] = ()
    sets: tuple[InboundSet, ...] = ()
    duplicates: tuple[str, ...] = ()
    acknowledgments: tuple[GroupAck, ...] = ()
    acks_sent: tuple[str, ...] = ()
    failures: tuple[EdiFailure, ...] = field(default=())

    @property
    def shipments(self) -> tuple[Shipment, ...]:
        """Every canonical shipment of the new sets."""
        return tuple(s for item in self.sets for s in item.shipments)

    @property
    def levels(self) -> tuple[InventoryLevel, ...]:
        """Every canonical inventory level of the new sets."""
        return tuple(level for item in self.sets for level in item.levels)
