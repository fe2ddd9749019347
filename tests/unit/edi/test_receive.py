"""receive(): one inbound file read, checked, mapped and acknowledged."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdock.connectors.edi import receive, to_ascii, to_x12_upper
from crossdock.connectors.edi.maps import ShippingAdvice
from crossdock.connectors.edi.x12 import (
    Delimiters,
    InMemoryControlNumbers,
    Party,
    Segment,
    X12EnvelopeError,
    read_x12,
    write_x12,
)

US = Party("ZZ", "CROSSDOCK")


def test_sets_carry_an_idempotency_key_and_their_mapped_value(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    received = receive(
        fixture_bytes("945_default.x12"), us=US, counters=InMemoryControlNumbers(), at=at
    )
    [item] = received.sets
    assert item.key == "ACME3PL:4512:4512:0001"
    assert item.mapped is not None
    assert isinstance(item.mapped.value, ShippingAdvice)
    assert received.findings == ()


def test_sets_with_envelope_errors_are_not_mapped(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    received = receive(
        fixture_bytes("945_bad_counts.x12"), us=US, counters=InMemoryControlNumbers(), at=at
    )
    # GE02 does not match GS06: the whole group is rejected, so nothing reaches the flows.
    assert [s.mapped.value if s.mapped else "unmapped" for s in received.sets] == [None, None]


def test_unsupported_set_is_rejected_in_the_997(at: datetime) -> None:
    text = (
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*CROSSDOCK      "
        "*261127*0915*U*00401*000000042*0*P*>~GS*IN*ACME3PL*CROSSDOCK*20261127*0915*8*X*004010~"
        "ST*810*0001~BIG*20261127*INV1~SE*3*0001~GE*1*8~IEA*1*000000042~"
    )
    assert read_x12(text).findings == ()
    received = receive(text, us=US, counters=InMemoryControlNumbers(), at=at)
    [ack] = received.acks
    assert ack.groups[0].sets[0].segments[-2:] == (
        Segment.of("AK5", "R", "1"),
        Segment.of("AK9", "R", "1", "1", "0"),
    )
    assert received.sets[0].mapped is None


def test_a_file_without_isa_raises_before_anything_is_acknowledged(at: datetime) -> None:
    with pytest.raises(X12EnvelopeError):
        receive(b"not an edi file", us=US, counters=InMemoryControlNumbers(), at=at)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_transliteration_always_gives_printable_ascii(text: str) -> None:
    out = to_ascii(text)
    assert all(" " <= c <= "~" for c in out)
    assert to_x12_upper(text) == out.upper()
    assert to_ascii(out) == out


@settings(max_examples=200, deadline=None)
@given(st.text(string.printable + "*>~|^", max_size=300))
def test_any_text_after_an_isa_reads_or_fails_clearly(tail: str) -> None:
    isa = (
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*CROSSDOCK      "
        "*261127*0915*U*00401*000000042*0*P*>~"
    )
    messages = []
    for text in (isa + tail, tail):
        try:
            read_x12(text)
        except X12EnvelopeError as exc:
            messages.append(str(exc))
    assert all(messages)


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "edi"
DAMAGEABLE = ["945_default.x12", "945_pipe_lf.x12", "856_crlf.x12", "846_caret.x12"]
EDIT = st.tuples(st.integers(0, 10_000), st.sampled_from(list("*>~|^\n\r09AZ ")), st.booleans())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DAMAGEABLE), st.lists(EDIT, max_size=6))
def test_damaged_files_are_acknowledged_or_refused_clearly(
    name: str, edits: list[tuple[int, str, bool]]
) -> None:
    text = (FIXTURES / name).read_text(encoding="ascii")
    for position, char, insert in edits:
        cut = position % len(text)
        text = text[:cut] + char + text[cut + (0 if insert else 1) :]
    refused: list[str] = []
    try:
        received = receive(
            text, us=US, counters=InMemoryControlNumbers(), at=datetime(2026, 11, 27)
        )
    except X12EnvelopeError as exc:
        refused.append(str(exc))
    if refused:
        assert refused[0]
        return
    for ack in received.acks:
        read_back = read_x12(write_x12(ack, Delimiters("*", ">", "~", "^")))
        assert [x for x in read_back.findings if x.fatal] == []
