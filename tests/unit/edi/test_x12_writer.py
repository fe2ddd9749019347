"""Writer: ISA padding, control numbers, computed counts, safe values, transliteration."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from crossdock.connectors.edi import to_ascii, to_x12_upper
from crossdock.connectors.edi.x12 import (
    Delimiters,
    InMemoryControlNumbers,
    Interchange,
    Party,
    Segment,
    SetBody,
    WriteOptions,
    X12WriteError,
    build_interchange,
    read_x12,
    write_x12,
    write_x12_bytes,
)

US = Party("ZZ", "CROSSDOCK")
THEM = Party("01", "123456789", application_id="ACME-WMS")


def _interchange(
    *bodies: list[Segment], counters: InMemoryControlNumbers | None = None
) -> Interchange:
    return build_interchange(
        sender=US,
        receiver=THEM,
        functional_id="OW",
        sets=[SetBody("940", body) for body in bodies],
        counters=counters or InMemoryControlNumbers(interchange=42, group=7, set_=3),
        at=datetime(2026, 11, 27, 4, 5),
    )


def test_isa_fields_are_right_padded_and_isa13_zero_padded() -> None:
    text = write_x12(_interchange([Segment.of("W05", "N", "SO-1")]))
    isa = text[:106]
    assert isa == (
        "ISA*00*          *00*          *ZZ*CROSSDOCK      *01*123456789      "
        "*261127*0405*U*00401*000000042*0*P*>~"
    )
    assert "GS*OW*CROSSDOCK*ACME-WMS*20261127*0405*7*X*004010~" in text


def test_counts_and_control_numbers_are_computed() -> None:
    counters = InMemoryControlNumbers(interchange=999_999_999, group=12, set_=9998)
    ic = _interchange(
        [Segment.of("W05", "N", "A")], [Segment.of("W05", "N", "B")] * 3, counters=counters
    )
    text = write_x12(ic)
    assert "ST*940*9998~" in text
    assert "SE*3*9998~" in text
    assert "ST*940*9999~" in text
    assert "SE*5*9999~" in text
    assert "GE*2*12~" in text
    assert text.endswith("IEA*1*999999999~")
    assert counters.next_interchange() == 1  # wrapped
    assert counters.next_set() == 10000
    assert read_x12(text).findings == ()


def test_non_ascii_is_transliterated_to_upper_case_ascii() -> None:
    text = write_x12(_interchange([Segment.of("N1", "ST", "Zoë Ørsted")]))
    assert "N1*ST*ZOE ORSTED~" in text
    text.encode("ascii")


def test_extended_charset_keeps_ascii_case() -> None:
    text = write_x12(
        _interchange([Segment.of("N1", "ST", "Zoë Ørsted")]), options=WriteOptions("extended")
    )
    assert "N1*ST*Zoe Orsted~" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Zoë Ørsted", "ZOE ORSTED"),
        ("Straße 5", "STRASSE 5"),
        ("Łódź", "LODZ"),
        ("Æble Œuvre", "AEBLE OEUVRE"),
        ("Þór Guðmundsdóttir", "THOR GUDMUNDSDOTTIR"),
        ("Ĳssel ﬁne", "IJSSEL FINE"),
        ("São Paulo – “Centro”", 'SAO PAULO - "CENTRO"'),
        ("Tab\there\nnewline", "TAB HERE NEWLINE"),
        ("東京", "??"),
    ],
)
def test_transliteration_table(source: str, expected: str) -> None:
    assert to_x12_upper(source) == expected
    assert to_ascii(source).isascii()


def test_delimiter_inside_a_value_is_refused_with_its_position() -> None:
    with pytest.raises(X12WriteError, match=r"N102 value 'A\*B' holds delimiter '\*'"):
        write_x12(_interchange([Segment.of("N1", "ST", "A*B")]))


def test_line_feed_inside_a_value_is_refused_when_it_is_the_terminator() -> None:
    ic = _interchange([Segment.of("NTE", "WHI", "X~Y")])
    write_x12(ic, Delimiters("|", "^", "\n"))  # '~' is harmless here
    with pytest.raises(X12WriteError):
        write_x12(ic, Delimiters("*", ">", "~"))


def test_replace_policy_writes_a_space_for_delimiters() -> None:
    ic = _interchange([Segment.of("N1", "ST", "A*B>C~D")])
    text = write_x12(ic, options=WriteOptions(on_delimiter="replace"))
    assert "N1*ST*A B C D~" in text
    assert read_x12(text).findings == ()


def test_isa_value_too_wide_is_refused() -> None:
    ic = build_interchange(
        sender=Party("ZZ", "A-SENDER-ID-TOO-LONG"),
        receiver=THEM,
        functional_id="OW",
        sets=[SetBody("940", [Segment.of("W05", "N", "1")])],
        counters=InMemoryControlNumbers(),
        at=datetime(2026, 11, 27),
    )
    with pytest.raises(X12WriteError, match="ISA06 holds at most 15"):
        write_x12(ic)


def test_bad_segment_tag_is_refused() -> None:
    with pytest.raises(X12WriteError, match="segment tag"):
        write_x12(_interchange([Segment.of("w5", "N")]))


def test_non_default_delimiters_with_crlf_and_bytes() -> None:
    ic = _interchange(
        [Segment.of("W01", "2", "EA", "", "VN", "SKU-1"), Segment("X1", (("A", "B"),))]
    )
    data = write_x12_bytes(ic, Delimiters("^", ":", "~", suffix="\r\n"))
    assert b"W01^2^EA^^VN^SKU-1~\r\nX1^A:B~\r\n" in data
    document = read_x12(data)
    assert document.interchanges[0].groups[0].sets[0].segments[1].elements == (("A", "B"),)


def test_trailing_empty_elements_are_not_written() -> None:
    text = write_x12(_interchange([Segment.of("N1", "ST", "NAME", "", "")]))
    assert "N1*ST*NAME~" in text


def test_version_00501_writes_the_repetition_separator() -> None:
    ic = _interchange([Segment.of("W05", "N", "1")])
    ic = replace(ic, version="00501")
    with pytest.raises(X12WriteError, match="repetition separator"):
        write_x12(ic)
    text = write_x12(ic, Delimiters("*", ":", "~", repetition="^"))
    assert text[82:89] == "^*00501"
    assert read_x12(text).delimiters[0].repetition == "^"
