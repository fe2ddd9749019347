"""Write the envelope tree as X12 text: padded ISA, computed counts, safe values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crossdock.connectors.edi.translit import to_ascii
from crossdock.connectors.edi.x12.delimiters import DEFAULT_DELIMITERS, Delimiters
from crossdock.connectors.edi.x12.envelope import (
    Element,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)
from crossdock.connectors.edi.x12.errors import X12WriteError
from crossdock.connectors.edi.x12.isa import ISA_WIDTHS

Charset = Literal["basic", "extended"]
OnDelimiter = Literal["raise", "replace"]


@dataclass(frozen=True)
class WriteOptions:
    """How values are made safe on the way out.

    Attributes:
        charset: ``"basic"`` (default) transliterates to ASCII and upper-cases every value,
            as the X12 basic character set asks (``Zoë Ørsted`` -> ``ZOE ORSTED``);
            ``"extended"`` transliterates non-ASCII letters but keeps ASCII case.
        on_delimiter: ``"raise"`` (default) refuses a value holding a delimiter with
            ``X12WriteError``; ``"replace"`` writes a space in its place (X12 has no escaping).
    """

    charset: Charset = "basic"
    on_delimiter: OnDelimiter = "raise"


def write_x12(
    interchanges: Interchange | Sequence[Interchange],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    options: WriteOptions | None = None,
) -> str:
    """Write one or more interchanges as text.

    SE01, GE01 and IEA01 are computed; SE02, GE02 and IEA02 repeat the header control numbers.

    Raises:
        X12WriteError: A value holds a delimiter (with ``on_delimiter="raise"``), an ISA value is
            wider than its field, or a control number is out of range.
    """
    items = [interchanges] if isinstance(interchanges, Interchange) else list(interchanges)
    writer = _Writer(delimiters, options or WriteOptions())
    return "".join(writer.interchange(ic) for ic in items)


def write_x12_bytes(
    interchanges: Interchange | Sequence[Interchange],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    options: WriteOptions | None = None,
) -> bytes:
    """Like ``write_x12``, encoded as ASCII."""
    return write_x12(interchanges, delimiters, options).encode("ascii")


class _Writer:
    def __init__(self, delimiters: Delimiters, options: WriteOptions) -> None:
        self.d = delimiters
        self.options = options

    def interchange(self, ic: Interchange) -> str:
        parts = [self._isa(ic)]
        for group in ic.groups:
            parts.append(self._group(group))
        parts.append(self.segment(Segment("IEA", (str(len(ic.groups)), _isa13(ic)))))
        return "".join(parts)

    def _group(self, group: FunctionalGroup) -> str:
        if not 1 <= group.control_number <= 999_999_999:
            raise X12WriteError(f"GS06 must be 1..999999999, got {group.control_number}")
        control = str(group.control_number)
        header = Segment.of(
            "GS",
            group.functional_id,
            group.sender_id,
            group.receiver_id,
            group.date,
            group.time,
            control,
            group.agency,
            group.version,
        )
        parts = [self.segment(header)]
        parts.extend(self._set(ts) for ts in group.sets)
        parts.append(self.segment(Segment("GE", (str(len(group.sets)), control))))
        return "".join(parts)

    def _set(self, ts: TransactionSet) -> str:
        if not 4 <= len(ts.control_number) <= 9:
            raise X12WriteError(f"ST02 must be 4-9 characters, got {ts.control_number!r}")
        parts = [
            self.segment(
                Segment.of("ST", ts.set_id, ts.control_number, ts.implementation_reference)
            )
        ]
        parts.extend(self.segment(s) for s in ts.segments)
        parts.append(self.segment(Segment("SE", (str(ts.segment_count), ts.control_number))))
        return "".join(parts)

    def segment(self, segment: Segment) -> str:
        tag = segment.tag
        if not (2 <= len(tag) <= 3 and tag.isascii() and tag.isalnum() and tag == tag.upper()):
            raise X12WriteError(f"a segment tag is 2-3 upper-case letters or digits, got {tag!r}")
        values = [self._element(segment.tag, i, e) for i, e in enumerate(segment.elements, 1)]
        return self.d.element.join([tag, *values]) + self.d.segment + self.d.suffix

    def _element(self, tag: str, position: int, element: Element) -> str:
        if isinstance(element, str):
            return self._value(element, tag, position)
        return self.d.component.join(self._value(c, tag, position) for c in element)

    def _value(self, value: str, tag: str, position: int) -> str:
        text = to_ascii(value)
        if self.options.charset == "basic":
            text = text.upper()
        bad = [c for c in text if c in self.d.reserved]
        if not bad:
            return text
        if self.options.on_delimiter == "replace":
            return "".join(" " if c in self.d.reserved else c for c in text)
        raise X12WriteError(
            f"{tag}{position:02d} value {value!r} holds delimiter {bad[0]!r}; X12 has no escaping"
        )

    def _isa(self, ic: Interchange) -> str:
        repetition = self.d.repetition if ic.version >= "00402" else None
        if ic.version >= "00402" and repetition is None:
            raise X12WriteError(f"ISA12 {ic.version} needs a repetition separator (ISA11)")
        values = [
            ic.auth_qualifier,
            ic.auth_info,
            ic.security_qualifier,
            ic.security_info,
            ic.sender_qualifier,
            ic.sender_id,
            ic.receiver_qualifier,
            ic.receiver_id,
            ic.date,
            ic.time,
            repetition or ic.standards_id,
            ic.version,
            _isa13(ic),
            ic.ack_requested,
            ic.usage,
        ]
        fields = [self._isa_field(i, v) for i, v in enumerate(values, 1)]
        fields.append(self.d.component)
        return "ISA" + self.d.element + self.d.element.join(fields) + self.d.segment + self.d.suffix

    def _isa_field(self, index: int, value: str) -> str:
        width = ISA_WIDTHS[index - 1]
        if index == 11 and len(value) == 1:
            return value
        text = self._value(value, "ISA", index)
        if len(text) > width:
            raise X12WriteError(f"ISA{index:02d} holds at most {width} characters, got {text!r}")
        return text.ljust(width)


def _isa13(ic: Interchange) -> str:
    if not 0 <= ic.control_number <= 999_999_999:
        raise X12WriteError(f"ISA13 must be 0..999999999, got {ic.control_number}")
    return f"{ic.control_number:09d}"
