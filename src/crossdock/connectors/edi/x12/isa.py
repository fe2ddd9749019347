"""The fixed-length ISA header: its field widths, and reading delimiters out of it."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from crossdock.connectors.edi.x12.delimiters import Delimiters
from crossdock.connectors.edi.x12.errors import X12EnvelopeError
from crossdock.connectors.edi.x12.findings import INTERCHANGE_INVALID_FIELD, Finding, Level

ISA_WIDTHS: tuple[int, ...] = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
"""Widths of ISA01..ISA16; with the tag, 16 separators and the terminator: 106 characters."""
ISA_LENGTH = 106
_SCAN_LIMIT = 400


@dataclass(frozen=True)
class IsaHeader:
    """The ISA fields as written (padded), the delimiters they declare, and where ISA ends."""

    fields: tuple[str, ...]
    delimiters: Delimiters
    end: int
    findings: tuple[Finding, ...]


def read_isa(text: str, start: int) -> IsaHeader:
    """Read the ISA starting at ``text[start]``.

    Delimiters come from the segment itself: element separator = character 4, component
    separator = ISA16, segment terminator = the character after ISA16, repetition separator =
    ISA11 from version 00402 on. Field widths are checked (findings, not exceptions) so that a
    sender that trims its ISA is still read; only an ISA whose delimiters cannot be found raises.

    Raises:
        X12EnvelopeError: No ISA at ``start``, or its delimiters are unusable.
    """
    if text[start : start + 3] != "ISA" or len(text) < start + 4:
        raise X12EnvelopeError(
            f"expected 'ISA' at offset {start}, found {text[start : start + 3]!r}"
        )
    element = text[start + 3]
    separators = [start + 3]
    limit = min(len(text), start + _SCAN_LIMIT)
    while len(separators) < 16:
        found = text.find(element, separators[-1] + 1, limit)
        if found < 0:
            raise X12EnvelopeError(
                f"ISA has {len(separators)} of 16 element separators {element!r}; "
                "it is truncated or its separator is not character 4"
            )
        separators.append(found)
    last = separators[-1]
    if len(text) < last + 3:
        raise X12EnvelopeError("ISA ends before ISA16 and the segment terminator")
    component, terminator = text[last + 1], text[last + 2]
    fields = tuple(text[a + 1 : b] for a, b in pairwise(separators))
    fields = (*fields, component)
    delimiters = _delimiters(fields, element, component, terminator)
    end = last + 3
    suffix = ""
    while end < len(text) and text[end] in "\r\n" and terminator not in "\r\n":
        suffix += text[end]
        end += 1
    if suffix:
        delimiters = Delimiters(
            delimiters.element,
            delimiters.component,
            delimiters.segment,
            delimiters.repetition,
            suffix[:2],
        )
    return IsaHeader(fields, delimiters, end, tuple(_width_findings(fields, last + 3 - start)))


def _delimiters(fields: tuple[str, ...], element: str, component: str, term: str) -> Delimiters:
    if term.isalnum() or term == " ":
        raise X12EnvelopeError(
            f"character 106 of ISA should be the segment terminator, found {term!r}"
        )
    version, isa11 = fields[11].strip(), fields[10]
    repetition = None
    if version >= "00402" and len(isa11) == 1 and not isa11.isalnum() and isa11 != " ":
        repetition = isa11
    try:
        return Delimiters(element, component, term, repetition)
    except X12EnvelopeError as exc:
        raise X12EnvelopeError(f"ISA declares unusable delimiters: {exc}") from exc


def _width_findings(fields: tuple[str, ...], length: int) -> list[Finding]:
    out: list[Finding] = []
    for index, (value, width) in enumerate(zip(fields, ISA_WIDTHS, strict=True), start=1):
        if len(value) != width:
            out.append(
                Finding(
                    Level.INTERCHANGE,
                    INTERCHANGE_INVALID_FIELD,
                    f"ISA{index:02d} must be {width} characters (right-padded), "
                    f"got {len(value)}: {value!r}",
                    segment_id="ISA",
                    element_position=index,
                    bad_value=value,
                )
            )
    if not out and length != ISA_LENGTH:
        out.append(
            Finding(
                Level.INTERCHANGE,
                INTERCHANGE_INVALID_FIELD,
                f"ISA must be {ISA_LENGTH} characters including its terminator, got {length}",
                segment_id="ISA",
            )
        )
    return out
