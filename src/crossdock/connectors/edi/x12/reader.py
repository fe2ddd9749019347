"""Read X12 text into the envelope tree, checking control numbers and counts on the way."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from crossdock.connectors.edi.x12 import findings as f
from crossdock.connectors.edi.x12.delimiters import Delimiters
from crossdock.connectors.edi.x12.envelope import (
    Element,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)
from crossdock.connectors.edi.x12.errors import X12EnvelopeError
from crossdock.connectors.edi.x12.findings import Finding, Level
from crossdock.connectors.edi.x12.isa import read_isa

_LEAD = "\ufeff\r\n\t \x00"


@dataclass(frozen=True)
class Document:
    """Everything read from one file: its interchanges, their delimiters and the findings.

    Attributes:
        interchanges: The interchanges, in order.
        delimiters: The delimiters each interchange declared (same order).
        findings: Every envelope finding, in document order.
    """

    interchanges: tuple[Interchange, ...]
    delimiters: tuple[Delimiters, ...]
    findings: tuple[Finding, ...]

    def findings_for(self, interchange: Interchange, group: FunctionalGroup) -> list[Finding]:
        """Findings that belong to one group (group, set, segment and element levels)."""
        return [
            x
            for x in self.findings
            if x.interchange_control == interchange.control_number
            and x.group_control == group.control_number
            and x.level is not Level.INTERCHANGE
        ]


def read_x12(data: str | bytes) -> Document:
    """Read one file holding one or more interchanges.

    Delimiters are taken from each ISA; CR/LF after terminators is ignored, and a line feed
    may itself be the terminator. Envelope errors become findings; only a document without a
    usable ISA raises.

    Raises:
        X12EnvelopeError: The data holds no readable ISA header.
    """
    text = _decode(data)
    pos = _skip_blank(text, 0)
    if not text.startswith("ISA", pos):
        raise X12EnvelopeError(f"an X12 document starts with 'ISA', found {text[pos : pos + 20]!r}")
    interchanges: list[Interchange] = []
    delimiters: list[Delimiters] = []
    found: list[Finding] = []
    while pos < len(text):
        parser = _InterchangeParser(text, pos)
        interchanges.append(parser.run())
        delimiters.append(parser.delimiters)
        found.extend(parser.findings)
        pos = _skip_blank(text, parser.pos)
        if pos < len(text) and not text.startswith("ISA", pos):
            found.append(
                Finding(
                    Level.INTERCHANGE,
                    f.INTERCHANGE_DATA_OUTSIDE,
                    f"data after IEA that is not an ISA: {text[pos : pos + 20]!r}",
                )
            )
            break
    return Document(tuple(interchanges), tuple(delimiters), tuple(found))


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _skip_blank(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _LEAD:
        pos += 1
    return pos


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() else None


@dataclass
class _OpenSet:
    set_id: str
    control: str
    reference: str
    body: list[Segment] = field(default_factory=list)


@dataclass
class _OpenGroup:
    header: Segment
    control: int
    sets: list[TransactionSet] = field(default_factory=list)


class _InterchangeParser:
    """State machine over the segments of one interchange."""

    def __init__(self, text: str, start: int) -> None:
        isa = read_isa(text, start)
        self.text = text
        self.pos = isa.end
        self.delimiters = isa.delimiters
        self.isa = isa.fields
        self.control = _int(isa.fields[12]) or 0
        self.groups: list[FunctionalGroup] = []
        self.group: _OpenGroup | None = None
        self.set: _OpenSet | None = None
        self.findings: list[Finding] = [
            self._with_ids(x, group=None, st=None) for x in isa.findings
        ]
        if _int(isa.fields[12]) is None:
            self._note(
                Level.INTERCHANGE,
                f.INTERCHANGE_INVALID_FIELD,
                f"ISA13 must be 9 digits, got {isa.fields[12]!r}",
                "ISA",
                element=13,
            )

    def run(self) -> Interchange:
        declared: int | None = None
        closed = False
        for segment in self._segments():
            if segment.tag == "IEA":
                declared = self._close_interchange(segment)
                closed = True
                break
            self._dispatch(segment)
        if not closed:
            if self.group is not None:
                self._note(
                    Level.GROUP,
                    f.GROUP_TRAILER_MISSING,
                    f"group {self.group.control} has no GE at end of data",
                    "GE",
                )
                self._close_group(None)
            self._note(
                Level.INTERCHANGE,
                f.INTERCHANGE_TRAILER_MISSING,
                "interchange ends without its IEA trailer",
                "IEA",
            )
        return self._interchange(declared)

    def _segments(self) -> list[Segment]:
        out: list[Segment] = []
        d = self.delimiters
        while self.pos < len(self.text):
            end = self.text.find(d.segment, self.pos)
            raw = self.text[self.pos : len(self.text) if end < 0 else end]
            self.pos = len(self.text) if end < 0 else end + 1
            raw = raw.strip("\r\n")
            if not raw:
                continue
            segment = self._split(raw)
            out.append(segment)
            if segment.tag == "IEA":
                break
        return out

    def _split(self, raw: str) -> Segment:
        d = self.delimiters
        parts = raw.split(d.element)
        elements: list[Element] = [
            tuple(p.split(d.component)) if d.component in p else p for p in parts[1:]
        ]
        return Segment(parts[0], tuple(elements))

    def _dispatch(self, segment: Segment) -> None:
        handler = {
            "GS": self._open_group,
            "GE": self._close_group,
            "ST": self._open_set,
            "SE": self._close_set,
        }.get(segment.tag)
        if handler is not None:
            handler(segment)
        elif self.set is not None:
            self.set.body.append(segment)
            if not (2 <= len(segment.tag) <= 3 and segment.tag.isalnum()):
                self._note(
                    Level.SEGMENT,
                    f.SEGMENT_UNRECOGNIZED,
                    f"segment tag must be 2-3 letters or digits, got {segment.tag!r}",
                    segment.tag,
                    position=len(self.set.body) + 1,
                )
        else:
            level = Level.GROUP if self.group is not None else Level.INTERCHANGE
            code = f.GROUP_NOT_SUPPORTED if self.group else f.INTERCHANGE_DATA_OUTSIDE
            self._note(level, code, f"segment {segment.tag} outside a transaction set", segment.tag)

    def _open_group(self, gs: Segment) -> None:
        if self.group is not None:
            self._note(
                Level.GROUP,
                f.GROUP_TRAILER_MISSING,
                f"group {self.group.control} has no GE before the next GS",
                "GE",
            )
            self._close_group(None)
        control = _int(gs.get(6))
        self.group = _OpenGroup(gs, control or 0)
        if control is None or len(gs.get(6)) > 9:
            self._note(
                Level.GROUP,
                f.GROUP_CONTROL_SYNTAX,
                f"GS06 must be 1-9 digits, got {gs.get(6)!r}",
                "GS",
                element=6,
            )
        for pos in range(1, 9):
            if not gs.get(pos):
                self._note(
                    Level.GROUP,
                    f.GROUP_NOT_SUPPORTED,
                    f"GS{pos:02d} is mandatory and empty",
                    "GS",
                    element=pos,
                )

    def _close_group(self, ge: Segment | None) -> None:
        if self.set is not None:
            self._note(
                Level.SET,
                f.SET_TRAILER_MISSING,
                f"set {self.set.control} has no SE before the group ends",
                "SE",
            )
            self._close_set(None)
        group = self.group
        if group is None:
            if ge is not None:
                self._note(Level.INTERCHANGE, f.INTERCHANGE_DATA_OUTSIDE, "GE without a GS", "GE")
            return
        declared = _int(ge.get(1)) if ge is not None else None
        if ge is not None:
            self._check_group_trailer(group, ge, declared)
        h = group.header
        self.groups.append(
            FunctionalGroup(
                h.get(1),
                h.get(2),
                h.get(3),
                h.get(4),
                h.get(5),
                group.control,
                tuple(group.sets),
                h.get(7),
                h.get(8),
                declared_set_count=declared,
            )
        )
        self.group = None

    def _check_group_trailer(self, group: _OpenGroup, ge: Segment, declared: int | None) -> None:
        if declared != len(group.sets):
            self._note(
                Level.GROUP,
                f.GROUP_SET_COUNT_MISMATCH,
                f"GE01 says {ge.get(1)!r} transaction sets, the group holds {len(group.sets)}",
                "GE",
                element=1,
                bad=ge.get(1),
            )
        if _int(ge.get(2)) != group.control:
            self._note(
                Level.GROUP,
                f.GROUP_CONTROL_MISMATCH,
                f"GE02 {ge.get(2)!r} does not match GS06 {group.header.get(6)!r}",
                "GE",
                element=2,
                bad=ge.get(2),
            )

    def _open_set(self, st: Segment) -> None:
        if self.set is not None:
            self._note(
                Level.SET,
                f.SET_TRAILER_MISSING,
                f"set {self.set.control} has no SE before the next ST",
                "SE",
            )
            self._close_set(None)
        self.set = _OpenSet(st.get(1), st.get(2), st.get(3))
        if self.group is None:
            self._note(
                Level.INTERCHANGE,
                f.INTERCHANGE_DATA_OUTSIDE,
                f"ST {st.get(1)}/{st.get(2)} outside a functional group",
                "ST",
            )
        if not (len(st.get(1)) == 3 and st.get(1).isdigit()):
            self._note(
                Level.SET,
                f.SET_ID_INVALID,
                f"ST01 must be a 3-digit set id, got {st.get(1)!r}",
                "ST",
                position=1,
                element=1,
                bad=st.get(1),
            )
        if not 4 <= len(st.get(2)) <= 9:
            self._note(
                Level.SET,
                f.SET_CONTROL_INVALID,
                f"ST02 must be 4-9 characters, got {st.get(2)!r}",
                "ST",
                position=1,
                element=2,
                bad=st.get(2),
            )
        elif self.group and any(s.control_number == st.get(2) for s in self.group.sets):
            self._note(
                Level.SET,
                f.SET_CONTROL_NOT_UNIQUE,
                f"ST02 {st.get(2)!r} is repeated within group {self.group.control}",
                "ST",
                position=1,
                element=2,
                bad=st.get(2),
            )

    def _close_set(self, se: Segment | None) -> None:
        open_set = self.set
        if open_set is None:
            self._note(
                Level.GROUP if self.group else Level.INTERCHANGE,
                f.GROUP_NOT_SUPPORTED,
                "SE without an ST",
                "SE",
            )
            return
        declared = _int(se.get(1)) if se is not None else None
        if se is not None:
            count, position = len(open_set.body) + 2, len(open_set.body) + 2
            if declared != count:
                self._note(
                    Level.SET,
                    f.SET_SEGMENT_COUNT_MISMATCH,
                    f"SE01 says {se.get(1)!r} segments, ST..SE holds {count}",
                    "SE",
                    position=position,
                    element=1,
                    bad=se.get(1),
                )
            if se.get(2) != open_set.control:
                self._note(
                    Level.SET,
                    f.SET_CONTROL_MISMATCH,
                    f"SE02 {se.get(2)!r} does not match ST02 {open_set.control!r}",
                    "SE",
                    position=position,
                    element=2,
                    bad=se.get(2),
                )
        ts = TransactionSet(
            open_set.set_id,
            open_set.control,
            tuple(open_set.body),
            open_set.reference,
            declared_segment_count=declared,
        )
        if self.group is not None:
            self.group.sets.append(ts)
        self.set = None

    def _close_interchange(self, iea: Segment) -> int | None:
        if self.group is not None:
            self._note(
                Level.GROUP,
                f.GROUP_TRAILER_MISSING,
                f"group {self.group.control} has no GE before IEA",
                "GE",
            )
            self._close_group(None)
        declared = _int(iea.get(1))
        if declared != len(self.groups):
            self._note(
                Level.INTERCHANGE,
                f.INTERCHANGE_GROUP_COUNT_MISMATCH,
                f"IEA01 says {iea.get(1)!r} groups, the interchange holds {len(self.groups)}",
                "IEA",
                element=1,
                bad=iea.get(1),
            )
        if _int(iea.get(2)) != self.control or len(iea.get(2)) != 9:
            self._note(
                Level.INTERCHANGE,
                f.INTERCHANGE_CONTROL_MISMATCH,
                f"IEA02 {iea.get(2)!r} does not match ISA13 {self.isa[12]!r}",
                "IEA",
                element=2,
                bad=iea.get(2),
            )
        return declared

    def _interchange(self, declared: int | None) -> Interchange:
        v = [x.strip() for x in self.isa]
        standards = v[10] if self.delimiters.repetition is None else "U"
        return Interchange(
            v[4],
            v[5],
            v[6],
            v[7],
            v[8],
            v[9],
            self.control,
            tuple(self.groups),
            version=v[11],
            standards_id=standards,
            ack_requested=v[13],
            usage=v[14],
            auth_qualifier=v[0],
            auth_info=v[1],
            security_qualifier=v[2],
            security_info=v[3],
            declared_group_count=declared,
        )

    def _note(
        self,
        level: Level,
        code: str,
        message: str,
        segment_id: str,
        *,
        position: int | None = None,
        element: int | None = None,
        bad: str | None = None,
    ) -> None:
        group = self.group.control if self.group is not None else None
        finding = Finding(
            level,
            code,
            message,
            segment_id=segment_id,
            segment_position=position,
            element_position=element,
            bad_value=bad,
        )
        self.findings.append(self._with_ids(finding, group, self.set))

    def _with_ids(self, finding: Finding, group: int | None, st: _OpenSet | None) -> Finding:
        return replace(
            finding,
            interchange_control=self.control,
            group_control=group,
            set_control=st.control if st is not None else None,
            set_id=st.set_id if st is not None else None,
        )
