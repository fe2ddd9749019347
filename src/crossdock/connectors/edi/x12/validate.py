"""Declarative segment rules for a transaction set, checked into 997-able findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from crossdock.connectors.edi.x12 import findings as f
from crossdock.connectors.edi.x12.envelope import Segment, TransactionSet
from crossdock.connectors.edi.x12.findings import Finding, Level

Kind = Literal["AN", "ID", "N", "R", "DT", "TM"]


@dataclass(frozen=True)
class El:
    """Rule for one element: position, type, length range, whether required, allowed codes."""

    position: int
    kind: Kind = "AN"
    min_len: int = 1
    max_len: int = 80
    required: bool = False
    codes: frozenset[str] | None = None


def req(position: int, kind: Kind = "AN", min_len: int = 1, max_len: int = 80) -> El:
    """A required element rule."""
    return El(position, kind, min_len, max_len, required=True)


def code(position: int, *codes: str, required: bool = True) -> El:
    """An ID element restricted to some code values."""
    return El(position, "ID", 1, 3, required=required, codes=frozenset(codes))


@dataclass(frozen=True)
class SegmentRule:
    """Rules for one segment tag."""

    elements: tuple[El, ...] = ()
    max_elements: int = 40


@dataclass(frozen=True)
class SetSchema:
    """What a transaction set may hold.

    Attributes:
        set_id: ST01.
        segments: Rules per known tag; tags not listed are reported as unrecognized
            (accepted with errors, not fatal: 3PL guides add segments).
        required: Tags that must occur at least once.
    """

    set_id: str
    segments: Mapping[str, SegmentRule]
    required: tuple[str, ...] = ()


def validate_set(
    ts: TransactionSet, schema: SetSchema, *, interchange: int | None, group: int | None
) -> list[Finding]:
    """Check a received set against its schema; every finding names segment and element."""
    out: list[Finding] = []
    tags = {s.tag for s in ts.segments}
    for tag in schema.required:
        if tag not in tags:
            out.append(
                Finding(
                    Level.SEGMENT,
                    f.SEGMENT_MANDATORY_MISSING,
                    f"mandatory segment {tag} is missing from {ts.set_id}",
                    segment_id=tag,
                    segment_position=ts.segment_count,
                )
            )
    for position, segment in enumerate(ts.segments, start=2):
        rule = schema.segments.get(segment.tag)
        if rule is None:
            message = f"segment {segment.tag} is not part of {ts.set_id}"
            unknown = Finding(Level.SEGMENT, f.SEGMENT_UNRECOGNIZED, message, fatal=False)
            out.append(replace(unknown, segment_id=segment.tag, segment_position=position))
            continue
        out.extend(_check_segment(segment, rule, position))
    return f.stamp(
        out,
        interchange=interchange,
        group=group,
        set_id=ts.set_id,
        set_control=ts.control_number,
    )


def _check_segment(segment: Segment, rule: SegmentRule, position: int) -> Iterable[Finding]:
    if len(segment.elements) > rule.max_elements:
        yield _element(
            segment,
            position,
            rule.max_elements + 1,
            f.ELEMENT_TOO_MANY,
            f"{segment.tag} has {len(segment.elements)} elements, at most "
            f"{rule.max_elements} expected",
        )
    for el in rule.elements:
        problem = _check_value(segment.get(el.position), el)
        if problem is not None:
            error_code, expected = problem
            yield _element(
                segment,
                position,
                el.position,
                error_code,
                f"{segment.tag}{el.position:02d}: expected {expected}, "
                f"got {segment.get(el.position)!r}",
            )


def _element(segment: Segment, position: int, element: int, error: str, msg: str) -> Finding:
    return Finding(
        Level.ELEMENT,
        error,
        msg,
        segment_id=segment.tag,
        segment_position=position,
        element_position=element,
        bad_value=segment.get(element) or None,
    )


def _check_value(value: str, el: El) -> tuple[str, str] | None:
    if value == "":
        return (f.ELEMENT_MANDATORY_MISSING, "a value (mandatory)") if el.required else None
    if el.codes is not None and value not in el.codes:
        return f.ELEMENT_INVALID_CODE, f"one of {sorted(el.codes)}"
    if el.kind == "DT":
        ok = len(value) == 8 and value.isdigit() and _is_datetime(value, ("%Y%m%d",))
        return None if ok else (f.ELEMENT_INVALID_DATE, "CCYYMMDD")
    if el.kind == "TM":
        ok = _is_datetime(value[:6], ("%H%M", "%H%M%S")) and value[6:].isdigit() | (len(value) <= 6)
        return None if ok else (f.ELEMENT_INVALID_TIME, "HHMM[SS[dd]]")
    if el.kind == "N" and not value.lstrip("-").isdigit():
        return f.ELEMENT_INVALID_CHARACTER, "an integer"
    if el.kind == "R" and not _is_decimal(value):
        return f.ELEMENT_INVALID_CHARACTER, "a decimal number"
    if len(value) < el.min_len:
        return f.ELEMENT_TOO_SHORT, f"at least {el.min_len} characters"
    if len(value) > el.max_len:
        return f.ELEMENT_TOO_LONG, f"at most {el.max_len} characters"
    return None


def _is_datetime(value: str, formats: tuple[str, ...]) -> bool:
    for fmt in formats:
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            continue
        return True
    return False


def _is_decimal(value: str) -> bool:
    body = value.lstrip("-")
    return body.replace(".", "", 1).isdigit()
