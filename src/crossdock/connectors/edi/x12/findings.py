"""Findings: precise, 997-able descriptions of what is wrong with a received document."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Level(StrEnum):
    """Which envelope level a finding belongs to, i.e. where a 997 reports it.

    ``INTERCHANGE`` findings concern ISA/IEA (a TA1 matter, never in a 997); ``GROUP`` ones go to
    AK905..AK909; ``SET`` ones to AK502..AK506; ``SEGMENT`` ones to AK3 (code in AK304) and
    ``ELEMENT`` ones to AK4 (code in AK403) under their segment's AK3.
    """

    INTERCHANGE = "interchange"
    GROUP = "group"
    SET = "set"
    SEGMENT = "segment"
    ELEMENT = "element"


# AK905 functional group error codes.
GROUP_NOT_SUPPORTED = "1"
GROUP_TRAILER_MISSING = "3"
GROUP_CONTROL_MISMATCH = "4"
GROUP_SET_COUNT_MISMATCH = "5"
GROUP_CONTROL_SYNTAX = "6"
# AK502 transaction set error codes.
SET_NOT_SUPPORTED = "1"
SET_TRAILER_MISSING = "2"
SET_CONTROL_MISMATCH = "3"
SET_SEGMENT_COUNT_MISMATCH = "4"
SET_SEGMENTS_IN_ERROR = "5"
SET_ID_INVALID = "6"
SET_CONTROL_INVALID = "7"
SET_CONTROL_NOT_UNIQUE = "23"
# AK304 segment error codes.
SEGMENT_UNRECOGNIZED = "1"
SEGMENT_UNEXPECTED = "2"
SEGMENT_MANDATORY_MISSING = "3"
SEGMENT_HAS_ELEMENT_ERRORS = "8"
# AK403 data element error codes.
ELEMENT_MANDATORY_MISSING = "1"
ELEMENT_TOO_MANY = "3"
ELEMENT_TOO_SHORT = "4"
ELEMENT_TOO_LONG = "5"
ELEMENT_INVALID_CHARACTER = "6"
ELEMENT_INVALID_CODE = "7"
ELEMENT_INVALID_DATE = "8"
ELEMENT_INVALID_TIME = "9"
# Interchange-level notes (TA1 I18 codes).
INTERCHANGE_CONTROL_MISMATCH = "001"
INTERCHANGE_INVALID_FIELD = "022"
INTERCHANGE_GROUP_COUNT_MISMATCH = "021"
INTERCHANGE_TRAILER_MISSING = "023"
INTERCHANGE_DATA_OUTSIDE = "024"


@dataclass(frozen=True)
class Finding:
    """One error found in a received document.

    Attributes:
        level: Envelope level, which decides where a 997 reports it.
        code: The X12 code for that level (AK905, AK502, AK304 or AK403; TA1 I18 for
            interchange findings).
        message: A human sentence: which segment, which element, what was expected.
        interchange_control: ISA13 of the interchange.
        group_control: GS06 of the group, when inside one.
        set_control: ST02 of the set, when inside one.
        set_id: ST01 of the set, when inside one.
        segment_id: Tag of the segment at fault.
        segment_position: Position in the set (ST is 1), as AK302 wants it.
        element_position: 1-based element position, as AK401 wants it.
        component_position: 1-based component position inside a composite.
        bad_value: Copy of the bad value (AK404), if any.
        fatal: False for an accepted-with-errors finding (AK5 ``E``); True rejects the set.
    """

    level: Level
    code: str
    message: str
    interchange_control: int | None = None
    group_control: int | None = None
    set_control: str | None = None
    set_id: str | None = None
    segment_id: str | None = None
    segment_position: int | None = None
    element_position: int | None = None
    component_position: int | None = None
    bad_value: str | None = None
    fatal: bool = True

    def __str__(self) -> str:
        where = []
        if self.interchange_control is not None:
            where.append(f"ISA13={self.interchange_control}")
        if self.group_control is not None:
            where.append(f"GS06={self.group_control}")
        if self.set_control is not None:
            where.append(f"ST {self.set_id or '?'}/{self.set_control}")
        if self.segment_id is not None:
            at = f" at {self.segment_position}" if self.segment_position is not None else ""
            where.append(f"segment {self.segment_id}{at}")
        if self.element_position is not None:
            where.append(f"element {self.element_position:02d}")
        return f"[{self.level}:{self.code}] {self.message} ({', '.join(where)})"


def stamp(
    found: list[Finding],
    *,
    interchange: int | None,
    group: int | None,
    set_id: str | None,
    set_control: str | None,
) -> list[Finding]:
    """The same findings with their envelope ids filled in."""
    return [
        replace(
            x,
            interchange_control=interchange,
            group_control=group,
            set_id=set_id,
            set_control=set_control,
        )
        for x in found
    ]
