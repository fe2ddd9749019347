"""997 Functional Acknowledgment: produce one for a received group (AK1..AK9)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from crossdock.connectors.edi.x12 import findings as f
from crossdock.connectors.edi.x12.builder import Party, SetBody, build_interchange
from crossdock.connectors.edi.x12.control import ControlNumbers
from crossdock.connectors.edi.x12.envelope import (
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)
from crossdock.connectors.edi.x12.findings import Finding, Level

ACK_FUNCTIONAL_ID = "FA"
DEFAULT_VERSION = "004010"
KNOWN_VERSIONS = frozenset(
    {
        "003040",
        "003050",
        "003060",
        "004010",
        "004010UCS",
        "004010VICS",
        "004020",
        "004030",
        "004040",
        "004050",
        "004060",
        "005010",
        "005010UCS",
        "005010VICS",
        "006010",
        "007010",
    }
)
"""GS08 values a 997 may echo; anything else is answered in 004010."""
_UNSAFE = re.compile(r"[^A-Za-z0-9 .,/()#&'+-]")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _token(value: str, width: int) -> str:
    """An echoed id cut down to letters and digits, so a broken input cannot break the 997."""
    return _NOT_ALNUM.sub("", value)[:width]


def ack_997_body(group: FunctionalGroup, findings: Sequence[Finding]) -> list[Segment] | None:
    """Body segments of the 997 for one received group, or ``None`` for a 997 group.

    Each set gets AK2, then AK3/AK4 for its segment and element findings, then AK5 (``A``,
    ``E`` when only non-fatal findings, ``R`` otherwise). AK9 carries the group result
    (``A``/``E``/``P``/``R``), GE01 as received, the sets received and accepted.

    Args:
        group: The received functional group.
        findings: Findings of that group (reader envelope findings plus schema findings).
    """
    if group.functional_id == ACK_FUNCTIONAL_ID:
        return None
    body = [Segment.of("AK1", _token(group.functional_id, 2), str(group.control_number))]
    results: list[str] = []
    for ts in group.sets:
        mine = [x for x in findings if x.set_control == ts.control_number]
        status, set_segments = _set_ack(ts, mine)
        results.append(status)
        body.extend(set_segments)
    group_findings = [x for x in findings if x.level is Level.GROUP]
    body.append(_ak9(group, results, group_findings))
    return body


def acknowledge(
    interchange: Interchange,
    findings: Sequence[Finding],
    *,
    us: Party,
    counters: ControlNumbers,
    at: datetime,
) -> Interchange | None:
    """A 997 interchange back to the sender, one 997 per non-FA group; ``None`` if nothing to ack.

    Args:
        interchange: The received interchange.
        findings: All findings about it (the reader's and the schemas').
        us: Our own party (the 997 sender).
        counters: Source of control numbers for the 997 envelope.
        at: Time of the acknowledgment.
    """
    bodies = []
    for group in interchange.groups:
        mine = [
            x
            for x in findings
            if x.group_control == group.control_number
            and x.interchange_control in (None, interchange.control_number)
            and x.level is not Level.INTERCHANGE
        ]
        body = ack_997_body(group, mine)
        if body is not None:
            bodies.append(SetBody("997", body))
    if not bodies:
        return None
    gs_sender = interchange.groups[0].sender_id if interchange.groups else ""
    them = Party(
        _token(interchange.sender_qualifier, 2),
        _token(interchange.sender_id, 15),
        _token(gs_sender, 15),
    )
    version = interchange.groups[0].version if interchange.groups else DEFAULT_VERSION
    return build_interchange(
        sender=us,
        receiver=them,
        functional_id=ACK_FUNCTIONAL_ID,
        sets=bodies,
        counters=counters,
        at=at,
        usage=interchange.usage if interchange.usage in ("P", "T") else "P",
        version=version if version in KNOWN_VERSIONS else DEFAULT_VERSION,
    )


def _set_ack(ts: TransactionSet, findings: Sequence[Finding]) -> tuple[str, list[Segment]]:
    out = [Segment.of("AK2", _token(ts.set_id, 3), _token(ts.control_number, 9))]
    by_segment: dict[tuple[int | None, str | None], list[Finding]] = {}
    for x in findings:
        if x.level in (Level.SEGMENT, Level.ELEMENT):
            by_segment.setdefault((x.segment_position, x.segment_id), []).append(x)
    for (position, tag), items in sorted(by_segment.items(), key=lambda kv: kv[0][0] or 0):
        seg_level = [x for x in items if x.level is Level.SEGMENT]
        seg_code = seg_level[0].code if seg_level else f.SEGMENT_HAS_ELEMENT_ERRORS
        out.append(Segment.of("AK3", _token(tag or "", 3), str(position or ""), "", seg_code))
        out.extend(_ak4(x) for x in items if x.level is Level.ELEMENT)
    set_errors = [x for x in findings if x.level is Level.SET]
    fatal = any(x.fatal for x in findings)
    codes = [x.code for x in set_errors][:5]
    if fatal and by_segment and f.SET_SEGMENTS_IN_ERROR not in codes and len(codes) < 5:
        codes.append(f.SET_SEGMENTS_IN_ERROR)
    status = "R" if fatal else ("E" if findings else "A")
    out.append(Segment.of("AK5", status, *codes))
    return status, out


def _ak4(x: Finding) -> Segment:
    position: str | tuple[str, ...] = str(x.element_position or "")
    if x.component_position is not None:
        position = (str(x.element_position or ""), str(x.component_position))
    bad = _UNSAFE.sub("", x.bad_value or "")[:99]
    return Segment.of("AK4", position, "", x.code, bad)


def _ak9(group: FunctionalGroup, results: Sequence[str], errors: Sequence[Finding]) -> Segment:
    received = len(results)
    accepted = sum(1 for r in results if r in ("A", "E"))
    included = group.declared_set_count if group.declared_set_count is not None else received
    fatal_group = any(x.fatal for x in errors)
    if fatal_group:
        accepted = 0
    if fatal_group or (received and accepted == 0):
        status = "R"
    elif accepted < received:
        status = "P"
    elif any(r == "E" for r in results) or errors:
        status = "E"
    else:
        status = "A"
    codes = [x.code for x in errors][:5]
    return Segment.of("AK9", status, str(included), str(received), str(accepted), *codes)
