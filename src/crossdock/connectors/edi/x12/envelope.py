"""The X12 tree: Interchange -> FunctionalGroup -> TransactionSet -> Segment.

The tree holds no delimiters and no counts: the writer computes SE01, GE01 and IEA01, and the
reader records the counts it found in ``declared_*`` fields that take no part in equality, so
that ``read(write(tree)) == tree``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Element = str | tuple[str, ...]
"""A simple element (text) or a composite (its components, at least two)."""


def _normalise_element(value: Element) -> Element:
    if isinstance(value, str):
        return value
    parts = list(value)
    while parts and parts[-1] == "":
        parts.pop()
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return tuple(parts)


@dataclass(frozen=True)
class Segment:
    """One segment: its tag and its elements (position 1 is ``elements[0]``).

    Trailing empty elements are dropped, as X12 requires, so equal segments compare equal.
    """

    tag: str
    elements: tuple[Element, ...] = ()

    def __post_init__(self) -> None:
        elements = [_normalise_element(e) for e in self.elements]
        while elements and elements[-1] == "":
            elements.pop()
        object.__setattr__(self, "elements", tuple(elements))

    @classmethod
    def of(cls, tag: str, *elements: Element | None) -> Segment:
        """Build a segment; ``None`` elements are written empty."""
        return cls(tag, tuple("" if e is None else e for e in elements))

    def get(self, position: int) -> str:
        """Element at a 1-based position as text (first component of a composite, or "")."""
        if position < 1 or position > len(self.elements):
            return ""
        value = self.elements[position - 1]
        return value if isinstance(value, str) else value[0]

    def components(self, position: int) -> tuple[str, ...]:
        """Components of the element at a 1-based position (one for a simple element)."""
        if position < 1 or position > len(self.elements):
            return ()
        value = self.elements[position - 1]
        return (value,) if isinstance(value, str) else value


@dataclass(frozen=True)
class TransactionSet:
    """One transaction set: ST01, ST02 and the segments between ST and SE."""

    set_id: str
    control_number: str
    segments: tuple[Segment, ...] = ()
    implementation_reference: str = ""
    declared_segment_count: int | None = field(default=None, compare=False)

    def find(self, tag: str) -> Segment | None:
        """First body segment with this tag, if any."""
        return next((s for s in self.segments if s.tag == tag), None)

    @property
    def segment_count(self) -> int:
        """SE01 as it should be: ST, body and SE."""
        return len(self.segments) + 2


@dataclass(frozen=True)
class FunctionalGroup:
    """One functional group (GS ... GE)."""

    functional_id: str
    sender_id: str
    receiver_id: str
    date: str
    time: str
    control_number: int
    sets: tuple[TransactionSet, ...] = ()
    agency: str = "X"
    version: str = "004010"
    declared_set_count: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Interchange:
    """One interchange (ISA ... IEA); ISA values are held without their padding."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    control_number: int
    groups: tuple[FunctionalGroup, ...] = ()
    version: str = "00401"
    standards_id: str = "U"
    ack_requested: str = "0"
    usage: str = "P"
    auth_qualifier: str = "00"
    auth_info: str = ""
    security_qualifier: str = "00"
    security_info: str = ""
    declared_group_count: int | None = field(default=None, compare=False)


def sets_of(interchanges: Sequence[Interchange]) -> list[tuple[FunctionalGroup, TransactionSet]]:
    """Every (group, set) pair of some interchanges, in document order."""
    return [(g, s) for ic in interchanges for g in ic.groups for s in g.sets]
