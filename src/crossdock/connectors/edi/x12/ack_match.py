"""Read a received 997 and match it to what we sent: accepted, with errors, or rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from crossdock.connectors.edi.x12.envelope import FunctionalGroup, Segment, TransactionSet

_AK5_TEXT = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "23": "transaction set control number not unique within the group",
}
_AK304_TEXT = {
    "1": "unrecognized segment",
    "2": "unexpected segment",
    "3": "mandatory segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
}
_AK403_TEXT = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
}


class AckStatus(StrEnum):
    """Outcome of one sent set or group according to the partner's 997."""

    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"
    NOT_ACKNOWLEDGED = "not_acknowledged"


_CODES = {
    "A": AckStatus.ACCEPTED,
    "E": AckStatus.ACCEPTED_WITH_ERRORS,
    "W": AckStatus.ACCEPTED_WITH_ERRORS,
    "P": AckStatus.PARTIALLY_ACCEPTED,
    "R": AckStatus.REJECTED,
    "M": AckStatus.REJECTED,
    "X": AckStatus.REJECTED,
}


@dataclass(frozen=True)
class ElementError:
    """One AK4: element position (and component), error code, copy of the bad value."""

    position: str
    code: str
    bad_value: str

    def describe(self) -> str:
        """Human text, e.g. ``element 03: invalid code value ('XX')``."""
        text = _AK403_TEXT.get(self.code, f"error {self.code}")
        bad = f" ({self.bad_value!r})" if self.bad_value else ""
        return f"element {self.position}: {text}{bad}"


@dataclass(frozen=True)
class SegmentError:
    """One AK3 with its AK4s."""

    segment_id: str
    position: str
    code: str
    elements: tuple[ElementError, ...] = ()

    def describe(self) -> str:
        """Human text for the segment and its elements."""
        text = _AK304_TEXT.get(self.code, f"error {self.code}")
        parts = [f"segment {self.segment_id} at {self.position}: {text}"]
        parts.extend(e.describe() for e in self.elements)
        return "; ".join(parts)


@dataclass(frozen=True)
class SetAck:
    """What the 997 said about one of our sets (AK2..AK5)."""

    set_id: str
    control_number: str
    status: AckStatus
    code: str = ""
    error_codes: tuple[str, ...] = ()
    segment_errors: tuple[SegmentError, ...] = ()

    def describe(self) -> str:
        """Human text with every reason the partner gave."""
        reasons = [_AK5_TEXT.get(c, f"error {c}") for c in self.error_codes]
        reasons.extend(s.describe() for s in self.segment_errors)
        tail = f": {'; '.join(reasons)}" if reasons else ""
        return f"set {self.set_id} {self.control_number} {self.status.value}{tail}"


@dataclass(frozen=True)
class AckFailure:
    """A rejection to surface as a visible, replayable failure (e.g. a dead letter).

    Attributes:
        functional_id: GS01 of the rejected group.
        group_control: GS06 we sent.
        set_id: ST01 of the rejected set ("" when the whole group was rejected without AK2).
        set_control: ST02 we sent ("" likewise).
        reason: Every reason the partner gave, in words.
    """

    functional_id: str
    group_control: int
    set_id: str
    set_control: str
    reason: str

    @property
    def replay_key(self) -> str:
        """Stable key of what to resend: ``<GS01>:<GS06>:<ST02>``."""
        return f"{self.functional_id}:{self.group_control}:{self.set_control}"


@dataclass(frozen=True)
class SentGroup:
    """Our record of a sent group: GS01, GS06 and each set's (ST01, ST02)."""

    functional_id: str
    control_number: int
    sets: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, group: FunctionalGroup) -> SentGroup:
        """Record a group we are sending."""
        sets = tuple((s.set_id, s.control_number) for s in group.sets)
        return cls(group.functional_id, group.control_number, sets)


@dataclass(frozen=True)
class GroupAck:
    """A received 997 read and matched to the group we sent.

    Attributes:
        functional_id: AK101.
        group_control: AK102.
        status: AK901 as a status.
        sets: One entry per set we sent (or per AK2 when nothing matched); sets the 997 does
            not mention get the group status for ``A``/``E``/``R``, else ``NOT_ACKNOWLEDGED``.
        unknown_sets: AK2 entries naming sets we did not send in that group.
        matched: Whether AK1 named a group we sent.
        counts: AK902..AK904 (included, received, accepted).
        error_codes: AK905..AK909.
    """

    functional_id: str
    group_control: int
    status: AckStatus
    sets: tuple[SetAck, ...]
    unknown_sets: tuple[SetAck, ...] = ()
    matched: bool = True
    counts: tuple[int | None, int | None, int | None] = (None, None, None)
    error_codes: tuple[str, ...] = ()

    @property
    def rejected(self) -> tuple[SetAck, ...]:
        """Sets the partner rejected."""
        return tuple(s for s in self.sets if s.status is AckStatus.REJECTED)

    def failures(self) -> tuple[AckFailure, ...]:
        """Every rejection as a value the caller turns into a visible, replayable failure."""
        out = [
            AckFailure(
                self.functional_id, self.group_control, s.set_id, s.control_number, s.describe()
            )
            for s in self.rejected
        ]
        if self.status is AckStatus.REJECTED and not out:
            codes = ", ".join(self.error_codes) or "no code"
            out.append(
                AckFailure(
                    self.functional_id,
                    self.group_control,
                    "",
                    "",
                    f"group {self.group_control} rejected (AK905: {codes})",
                )
            )
        return tuple(out)


def read_997(ack: TransactionSet) -> GroupAck:
    """Read a 997 set as it stands, without matching it to anything sent."""
    return match_997(ack, ())


def match_997(ack: TransactionSet, sent: Sequence[SentGroup]) -> GroupAck:
    """Match a received 997 to the group it acknowledges (by AK101/AK102 = GS01/GS06).

    Args:
        ack: The received 997 transaction set.
        sent: Our records of sent groups (any number; the one with GS06 = AK102 is used).

    Raises:
        ValueError: ``ack`` is not a 997 or has no AK1.
    """
    if ack.set_id != "997":
        raise ValueError(f"expected a 997 transaction set, got {ack.set_id}")
    ak1 = ack.find("AK1")
    if ak1 is None:
        raise ValueError(f"997 {ack.control_number} has no AK1 segment")
    control = int(ak1.get(2)) if ak1.get(2).isdigit() else -1
    ak9 = ack.find("AK9") or Segment("AK9", ("R",))
    status = _CODES.get(ak9.get(1), AckStatus.REJECTED)
    reported = _set_acks(ack.segments)
    group = next(
        (g for g in sent if g.control_number == control and g.functional_id == ak1.get(1)), None
    )
    sets, unknown = _match_sets(reported, group, status)
    counts = tuple(int(v) if v.isdigit() else None for v in (ak9.get(2), ak9.get(3), ak9.get(4)))
    codes = tuple(c for c in (ak9.get(i) for i in range(5, 10)) if c)
    return GroupAck(
        ak1.get(1),
        control,
        status,
        sets,
        unknown,
        group is not None or not sent,
        (counts[0], counts[1], counts[2]),
        codes,
    )


def _match_sets(
    reported: Sequence[SetAck], group: SentGroup | None, status: AckStatus
) -> tuple[tuple[SetAck, ...], tuple[SetAck, ...]]:
    if group is None:
        return tuple(reported), ()
    by_control = {s.control_number: s for s in reported}
    implicit = (
        status
        if status in (AckStatus.ACCEPTED, AckStatus.ACCEPTED_WITH_ERRORS, AckStatus.REJECTED)
        else AckStatus.NOT_ACKNOWLEDGED
    )
    sets = tuple(
        by_control.get(control, SetAck(set_id, control, implicit)) for set_id, control in group.sets
    )
    sent_controls = {c for _, c in group.sets}
    unknown = tuple(s for s in reported if s.control_number not in sent_controls)
    return sets, unknown


def _set_acks(segments: Sequence[Segment]) -> list[SetAck]:
    out: list[SetAck] = []
    current: Segment | None = None
    seg_errors: list[SegmentError] = []
    for segment in segments:
        if segment.tag == "AK2":
            current, seg_errors = segment, []
        elif segment.tag == "AK3" and current is not None:
            seg_errors.append(SegmentError(segment.get(1), segment.get(2), segment.get(4)))
        elif segment.tag == "AK4" and seg_errors:
            last = seg_errors[-1]
            position = ":".join(segment.components(1))
            error = ElementError(position, segment.get(3), segment.get(4))
            seg_errors[-1] = SegmentError(
                last.segment_id, last.position, last.code, (*last.elements, error)
            )
        elif segment.tag == "AK5" and current is not None:
            codes = tuple(c for c in (segment.get(i) for i in range(2, 7)) if c)
            status = _CODES.get(segment.get(1), AckStatus.REJECTED)
            out.append(
                SetAck(
                    current.get(1), current.get(2), status, segment.get(1), codes, tuple(seg_errors)
                )
            )
            current = None
    return out
