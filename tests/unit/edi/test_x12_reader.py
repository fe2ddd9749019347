"""Reader: delimiters from ISA, line breaks, envelopes, counts and control numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crossdock.connectors.edi.x12 import (
    Delimiters,
    Level,
    Segment,
    X12EnvelopeError,
    read_x12,
)
from crossdock.connectors.edi.x12 import findings as f

IC = Level.INTERCHANGE


def _isa(e: str = "*", c: str = ">", t: str = "~", version: str = "00401", isa11: str = "U") -> str:
    sender, receiver = "ACME3PL".ljust(15), "CROSSDOCK".ljust(15)
    fields = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender, "ZZ", receiver]
    fields += ["261127", "0915", isa11, version, "000000042", "0", "T", c]
    return e.join(fields) + t


def _wrap(body: list[str], e: str = "*", t: str = "~", sep: str = "", **isa: str) -> str:
    segments = [
        f"GS{e}SW{e}ACME3PL{e}CROSSDOCK{e}20261127{e}0915{e}7{e}X{e}004010",
        f"ST{e}945{e}0001",
        *body,
        f"SE{e}{len(body) + 2}{e}0001",
        f"GE{e}1{e}7",
        f"IEA{e}1{e}000000042",
    ]
    return _isa(e=e, t=t, **isa) + sep + "".join(s + t + sep for s in segments)


@pytest.mark.parametrize(
    ("name", "element", "component", "terminator"),
    [
        ("945_default.x12", "*", ">", "~"),
        ("945_pipe_lf.x12", "|", "^", "\n"),
        ("856_default.x12", "*", ">", "~"),
        ("856_crlf.x12", "*", ">", "~"),
        ("846_caret.x12", "^", ":", "~"),
        ("997_partial_reject.x12", "*", ">", "~"),
        ("997_two_interchanges_lf.x12", "!", "}", "\n"),
    ],
)
def test_fixtures_declare_their_delimiters_and_read_clean(
    fixture_bytes: Callable[[str], bytes], name: str, element: str, component: str, terminator: str
) -> None:
    document = read_x12(fixture_bytes(name))
    assert document.findings == ()
    for d in document.delimiters:
        assert (d.element, d.component, d.segment) == (element, component, terminator)
    assert all(g.sets for ic in document.interchanges for g in ic.groups)


def test_crlf_after_terminators_reads_like_no_line_breaks(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    plain = read_x12(fixture_bytes("856_default.x12"))
    crlf = read_x12(fixture_bytes("856_crlf.x12"))
    assert crlf.interchanges == plain.interchanges
    assert crlf.delimiters[0].suffix == "\r\n"


def test_line_feed_terminator_with_pipe_separator(fixture_bytes: Callable[[str], bytes]) -> None:
    document = read_x12(fixture_bytes("945_pipe_lf.x12"))
    ts = document.interchanges[0].groups[0].sets[0]
    assert ts.set_id == "945"
    assert ts.control_number == "000000017"
    w12 = [s for s in ts.segments if s.tag == "W12"]
    assert w12[0] == Segment.of("W12", "PR", "", "4", "2", "EA", "", "TSHIRT-BLK-L", "VN")


def test_crlf_line_ending_with_line_feed_as_terminator_is_read() -> None:
    # A file saved with CRLF where the terminator is the line break: char 106 is then CR.
    text = _wrap(["W06*F*SO-1"], t="\n").replace("\n", "\r\n")
    document = read_x12(text)
    assert document.findings == ()
    assert document.delimiters[0].segment == "\r"
    assert document.interchanges[0].groups[0].sets[0].segments == (Segment.of("W06", "F", "SO-1"),)


def test_multiple_interchanges_in_one_file(fixture_bytes: Callable[[str], bytes]) -> None:
    document = read_x12(fixture_bytes("997_two_interchanges_lf.x12"))
    assert [ic.control_number for ic in document.interchanges] == [4517, 4518]
    assert [ic.groups[0].control_number for ic in document.interchanges] == [4517, 4518]


def test_composites_are_split_on_the_declared_component_separator() -> None:
    document = read_x12(_wrap(["AK4*4>2**7*XX"], t="~"))
    segment = document.interchanges[0].groups[0].sets[0].segments[0]
    assert segment.elements[0] == ("4", "2")
    assert segment.get(1) == "4"
    assert segment.components(1) == ("4", "2")


def test_repetition_separator_from_version_00402() -> None:
    document = read_x12(_wrap(["W06*F*SO-1"], version="00501", isa11="^"))
    assert document.delimiters[0].repetition == "^"
    assert document.interchanges[0].version == "00501"


def test_isa11_is_the_standards_id_up_to_4010() -> None:
    document = read_x12(_wrap(["W06*F*SO-1"]))
    assert document.delimiters[0].repetition is None
    assert document.interchanges[0].standards_id == "U"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GS*SW*X~", "starts with 'ISA'"),
        ("ISA*00*    *00", "element separators"),
        (_isa(t="A") + "GS*SW~", "segment terminator"),
        (_isa(e="*", c="*"), "unusable delimiters"),
    ],
)
def test_unreadable_isa_raises_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(X12EnvelopeError, match=message):
        read_x12(text)


def test_isa_field_of_wrong_width_is_a_precise_finding() -> None:
    text = _wrap(["W06*F*SO-1"]).replace("ACME3PL        ", "ACME3PL", 1)
    document = read_x12(text)
    assert document.interchanges[0].sender_id == "ACME3PL"
    [finding] = document.findings
    assert finding.level is Level.INTERCHANGE
    assert finding.element_position == 6
    assert "ISA06 must be 15 characters" in finding.message


def test_count_and_control_mismatches_are_findings(fixture_bytes: Callable[[str], bytes]) -> None:
    document = read_x12(fixture_bytes("945_bad_counts.x12"))
    by_code = {(x.level, x.code): x for x in document.findings}
    se = by_code[(Level.SET, f.SET_SEGMENT_COUNT_MISMATCH)]
    assert (se.set_control, se.segment_id, se.element_position, se.bad_value) == (
        "0002",
        "SE",
        1,
        "7",
    )
    assert "holds 20" in se.message
    ge = by_code[(Level.GROUP, f.GROUP_CONTROL_MISMATCH)]
    assert (ge.group_control, ge.element_position, ge.bad_value) == (4519, 2, "4520")
    iea = by_code[(Level.INTERCHANGE, f.INTERCHANGE_CONTROL_MISMATCH)]
    assert iea.bad_value == "000004518"
    assert len(document.findings) == 3


@pytest.mark.parametrize(
    ("mutate", "level", "code"),
    [
        (lambda t: t.replace("SE*3*0001", "SE*3*0002"), Level.SET, f.SET_CONTROL_MISMATCH),
        (lambda t: t.replace("GE*1*7", "GE*2*7"), Level.GROUP, f.GROUP_SET_COUNT_MISMATCH),
        (lambda t: t.replace("IEA*1*", "IEA*3*"), IC, f.INTERCHANGE_GROUP_COUNT_MISMATCH),
        (lambda t: t.replace("SE*3*0001~", ""), Level.SET, f.SET_TRAILER_MISSING),
        (lambda t: t.replace("GE*1*7~", ""), Level.GROUP, f.GROUP_TRAILER_MISSING),
        (lambda t: t.replace("IEA*1*000000042~", ""), IC, f.INTERCHANGE_TRAILER_MISSING),
        (lambda t: t.replace("ST*945*0001", "ST*94*0001"), Level.SET, f.SET_ID_INVALID),
        (
            lambda t: t.replace("ST*945*0001", "ST*945*001").replace("SE*3*0001", "SE*3*001"),
            Level.SET,
            f.SET_CONTROL_INVALID,
        ),
        (lambda t: t.replace("*7*X*", "*7A*X*"), Level.GROUP, f.GROUP_CONTROL_SYNTAX),
    ],
)
def test_each_envelope_error_has_its_997_code(
    mutate: Callable[[str], str], level: Level, code: str
) -> None:
    text = mutate(_wrap(["W06*F*SO-1"]))
    document = read_x12(text)
    assert (level, code) in {(x.level, x.code) for x in document.findings}, document.findings


def test_findings_name_segment_element_and_expectation(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    document = read_x12(fixture_bytes("945_bad_counts.x12"))
    text = str(next(x for x in document.findings if x.set_control == "0002"))
    assert "SE01 says '7' segments, ST..SE holds 20" in text
    assert "GS06=4519" in text
    assert "element 01" in text


def test_duplicate_set_control_numbers_in_a_group_are_reported() -> None:
    text = _wrap(["W06*F*SO-1", "SE*3*0001", "ST*945*0001", "W06*F*SO-2"]).replace(
        "GE*1*7", "GE*2*7"
    )
    document = read_x12(text)
    assert f.SET_CONTROL_NOT_UNIQUE in {x.code for x in document.findings}


def test_bytes_in_latin1_are_read_and_data_after_iea_is_reported() -> None:
    text = _wrap(["N1*ST*M\xfcller"])
    document = read_x12(text.encode("latin-1") + b"garbage")
    assert document.interchanges[0].groups[0].sets[0].segments[0].get(2) == "M\u00fcller"
    assert [x.code for x in document.findings] == [f.INTERCHANGE_DATA_OUTSIDE]


def test_delimiters_must_be_distinct_and_not_alphanumeric() -> None:
    with pytest.raises(X12EnvelopeError):
        Delimiters("*", "*", "~")
    with pytest.raises(X12EnvelopeError):
        Delimiters("A", ">", "~")
    with pytest.raises(X12EnvelopeError):
        Delimiters("*", ">", "\n", suffix="\n")


def test_non_numeric_isa13_is_a_finding_not_a_crash() -> None:
    text = _wrap(["W06*F*SO-1"]).replace("*000000042*0*T*", "*00000004X*0*T*", 1)
    document = read_x12(text)
    codes = {(x.level, x.code, x.element_position) for x in document.findings}
    assert (IC, f.INTERCHANGE_INVALID_FIELD, 13) in codes
    assert document.interchanges[0].groups[0].sets[0].segments == (Segment.of("W06", "F", "SO-1"),)
