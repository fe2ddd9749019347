"""Property tests: writing a tree and reading it back gives the same tree, for any delimiters."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossdock.connectors.edi.x12 import (
    Delimiters,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
    WriteOptions,
    read_x12,
    write_x12,
)

SAFE_SEPARATORS = [*"*|^+!~:><\\`{}", "\x1c", "\x1d", "\x1e", "\x1f"]
SAFE_TERMINATORS = [*SAFE_SEPARATORS, "\n", "\r"]
ENVELOPE_TAGS = {"ISA", "IEA", "GS", "GE", "ST", "SE"}
TEXT = string.ascii_letters + string.digits + " .,-/#&'()@%$=?;\"_[]"
EXTENDED = WriteOptions(charset="extended")


@st.composite
def delimiters(draw: st.DrawFn) -> Delimiters:
    element = draw(st.sampled_from(SAFE_SEPARATORS))
    component = draw(st.sampled_from([c for c in SAFE_SEPARATORS if c != element]))
    terminator = draw(
        st.sampled_from([c for c in SAFE_TERMINATORS if c not in (element, component)])
    )
    suffix = "" if terminator in "\r\n" else draw(st.sampled_from(["", "\n", "\r\n"]))
    return Delimiters(element, component, terminator, None, suffix)


def values(d: Delimiters, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    alphabet = "".join(c for c in TEXT if c not in d.reserved)
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def ids(max_size: int) -> st.SearchStrategy[str]:
    return st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=max_size)


def segments(d: Delimiters) -> st.SearchStrategy[Segment]:
    tag = ids(3).filter(lambda t: len(t) >= 2 and t not in ENVELOPE_TAGS)
    composite = st.lists(values(d), min_size=2, max_size=4).map(tuple)
    element = st.one_of(values(d), values(d), composite)
    return st.builds(lambda t, e: Segment(t, tuple(e)), tag, st.lists(element, max_size=8))


def transaction_sets(d: Delimiters) -> st.SearchStrategy[TransactionSet]:
    return st.builds(
        TransactionSet,
        set_id=st.text(string.digits, min_size=3, max_size=3),
        control_number=st.text(string.digits, min_size=4, max_size=9),
        segments=st.lists(segments(d), max_size=6).map(tuple),
    )


def groups(d: Delimiters) -> st.SearchStrategy[FunctionalGroup]:
    unique_sets = st.lists(transaction_sets(d), max_size=3, unique_by=lambda s: s.control_number)
    return st.builds(
        FunctionalGroup,
        functional_id=st.text(string.ascii_uppercase, min_size=2, max_size=2),
        sender_id=ids(15),
        receiver_id=ids(15),
        date=st.text(string.digits, min_size=8, max_size=8),
        time=st.text(string.digits, min_size=4, max_size=4),
        control_number=st.integers(1, 999_999_999),
        sets=unique_sets.map(tuple),
    )


@st.composite
def documents(draw: st.DrawFn) -> tuple[Delimiters, Interchange]:
    d = draw(delimiters())
    interchange = Interchange(
        sender_qualifier=draw(ids(2)),
        sender_id=draw(ids(15)),
        receiver_qualifier=draw(ids(2)),
        receiver_id=draw(ids(15)),
        date=draw(st.text(string.digits, min_size=6, max_size=6)),
        time=draw(st.text(string.digits, min_size=4, max_size=4)),
        control_number=draw(st.integers(0, 999_999_999)),
        groups=tuple(draw(st.lists(groups(d), max_size=3))),
        usage=draw(st.sampled_from(["P", "T"])),
        ack_requested=draw(st.sampled_from(["0", "1"])),
    )
    return d, interchange


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_write_then_read_gives_the_same_tree(case: tuple[Delimiters, Interchange]) -> None:
    d, interchange = case
    text = write_x12(interchange, d, EXTENDED)
    document = read_x12(text)
    assert document.interchanges == (interchange,)
    assert document.findings == ()
    assert document.delimiters[0].element == d.element
    assert document.delimiters[0].component == d.component
    assert document.delimiters[0].segment == d.segment


@settings(max_examples=40, deadline=None)
@given(documents(), documents())
def test_two_interchanges_with_different_delimiters_in_one_file(
    first: tuple[Delimiters, Interchange], second: tuple[Delimiters, Interchange]
) -> None:
    text = write_x12(first[1], first[0], EXTENDED) + write_x12(second[1], second[0], EXTENDED)
    document = read_x12(text.encode("ascii"))
    assert document.interchanges == (first[1], second[1])
    assert document.findings == ()


@settings(max_examples=40, deadline=None)
@given(documents())
def test_written_isa_is_always_106_characters(case: tuple[Delimiters, Interchange]) -> None:
    d, interchange = case
    text = write_x12(interchange, d, EXTENDED)
    assert text[105] == d.segment
    assert text[104] == d.component
    assert text[3] == d.element
    assert text.count(d.element, 0, 106) == 16


@settings(max_examples=40, deadline=None)
@given(documents())
def test_counts_written_are_the_counts_read(case: tuple[Delimiters, Interchange]) -> None:
    d, interchange = case
    document = read_x12(write_x12(interchange, d, EXTENDED))
    read = document.interchanges[0]
    assert read.declared_group_count == len(interchange.groups)
    for group in read.groups:
        assert group.declared_set_count == len(group.sets)
        for ts in group.sets:
            assert ts.declared_segment_count == len(ts.segments) + 2
