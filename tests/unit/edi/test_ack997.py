"""997: producing acknowledgments for what we receive, matching the ones we get back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crossdock.connectors.edi import receive
from crossdock.connectors.edi.maps import read_945
from crossdock.connectors.edi.x12 import (
    AckStatus,
    FunctionalGroup,
    InMemoryControlNumbers,
    Party,
    Segment,
    SentGroup,
    SetBody,
    TransactionSet,
    ack_997_body,
    acknowledge,
    build_interchange,
    match_997,
    read_997,
    read_x12,
    write_x12,
)

US = Party("ZZ", "CROSSDOCK")
ACME = Party("ZZ", "ACME3PL")


def _ack_segments(data: bytes, at: datetime) -> list[Segment]:
    received = receive(data, us=US, counters=InMemoryControlNumbers(), at=at)
    [ack] = received.acks
    [ts] = ack.groups[0].sets
    assert ack.groups[0].functional_id == "FA"
    return list(ts.segments)


def test_clean_945_is_acknowledged_accepted(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    assert _ack_segments(fixture_bytes("945_default.x12"), at) == [
        Segment.of("AK1", "SW", "4512"),
        Segment.of("AK2", "945", "0001"),
        Segment.of("AK5", "A"),
        Segment.of("AK9", "A", "1", "1", "1"),
    ]


def test_997_goes_back_to_the_sender_with_our_control_numbers(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    counters = InMemoryControlNumbers(interchange=500, group=60, set_=7)
    received = receive(fixture_bytes("945_pipe_lf.x12"), us=US, counters=counters, at=at)
    [ack] = received.acks
    assert (ack.sender_id, ack.receiver_id, ack.control_number) == ("CROSSDOCK", "ACME3PL", 500)
    assert ack.groups[0].control_number == 60
    assert ack.groups[0].sets[0].control_number == "0007"
    text = write_x12(ack)
    assert read_x12(text).findings == ()


def test_envelope_errors_become_ak5_and_ak9_codes(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    segments = _ack_segments(fixture_bytes("945_bad_counts.x12"), at)
    assert segments == [
        Segment.of("AK1", "SW", "4519"),
        Segment.of("AK2", "945", "0001"),
        Segment.of("AK5", "A"),
        Segment.of("AK2", "945", "0002"),
        Segment.of("AK5", "R", "4"),
        Segment.of("AK9", "R", "2", "2", "0", "4"),
    ]


def _group(*sets: TransactionSet) -> FunctionalGroup:
    return FunctionalGroup("SW", "ACME3PL", "CROSSDOCK", "20261127", "0915", 77, sets)


def test_segment_and_element_errors_become_ak3_and_ak4(at: datetime) -> None:
    bad = TransactionSet(
        "945",
        "0001",
        (
            Segment.of("W06", "F", "SO-1", "2026-11-27"),
            Segment.of("LX", "1"),
            Segment.of("W12", "CC", "2", "two", "0", "EA"),
            Segment.of("ZZZ", "unknown"),
        ),
    )
    good = TransactionSet(
        "945",
        "0002",
        (Segment.of("W06", "F", "SO-2"), Segment.of("W12", "CC", "1", "1"), Segment.of("W03", "1")),
    )
    ic = build_interchange(
        sender=ACME,
        receiver=US,
        functional_id="SW",
        sets=[SetBody("945", bad.segments), SetBody("945", good.segments)],
        counters=InMemoryControlNumbers(group=77),
        at=at,
    )
    received = receive(write_x12(ic), us=US, counters=InMemoryControlNumbers(), at=at)
    [ack] = received.acks
    assert ack.groups[0].sets[0].segments == (
        Segment.of("AK1", "SW", "77"),
        Segment.of("AK2", "945", "0001"),
        Segment.of("AK3", "W06", "2", "", "8"),
        Segment.of("AK4", "3", "", "8", "2026-11-27"),
        Segment.of("AK3", "W12", "4", "", "8"),
        Segment.of("AK4", "3", "", "6", "TWO"),
        Segment.of("AK3", "ZZZ", "5", "", "1"),
        Segment.of("AK3", "W03", "6", "", "3"),
        Segment.of("AK5", "R", "5"),
        Segment.of("AK2", "945", "0002"),
        Segment.of("AK5", "A"),
        Segment.of("AK9", "P", "2", "2", "1"),
    )


def test_non_fatal_findings_give_accepted_with_errors() -> None:
    ts = TransactionSet(
        "945",
        "0001",
        (
            Segment.of("W06", "F", "SO-1"),
            Segment.of("W12", "CC", "1", "1"),
            Segment.of("W03", "1"),
            Segment.of("ZZZ", "x"),
        ),
    )
    mapped = read_945(ts, group=77)
    assert mapped.ok
    body = ack_997_body(_group(ts), mapped.findings)
    assert body is not None
    assert body[-2:] == [Segment.of("AK5", "E"), Segment.of("AK9", "E", "1", "1", "1")]


def test_a_997_is_never_acknowledged(fixture_bytes: Callable[[str], bytes], at: datetime) -> None:
    received = receive(
        fixture_bytes("997_partial_reject.x12"), us=US, counters=InMemoryControlNumbers(), at=at
    )
    assert received.acks == ()
    assert received.sets == ()
    fa = read_x12(fixture_bytes("997_partial_reject.x12")).interchanges[0]
    assert ack_997_body(fa.groups[0], ()) is None
    assert acknowledge(fa, (), us=US, counters=InMemoryControlNumbers(), at=at) is None


def _sent_940s(at: datetime, counters: InMemoryControlNumbers) -> FunctionalGroup:
    ic = build_interchange(
        sender=US,
        receiver=ACME,
        functional_id="OW",
        sets=[SetBody("940", [Segment.of("W05", "N", f"SO-{n}")]) for n in (1, 2)],
        counters=counters,
        at=at,
    )
    return ic.groups[0]


def test_rejection_is_reported_as_a_replayable_failure(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    sent = _sent_940s(at, InMemoryControlNumbers(group=1207, set_=31))
    assert [s.control_number for s in sent.sets] == ["0031", "0032"]
    received = receive(
        fixture_bytes("997_partial_reject.x12"),
        us=US,
        counters=InMemoryControlNumbers(),
        at=at,
        sent=(SentGroup.of(sent),),
    )
    [result] = received.acknowledgments
    assert result.matched
    assert result.status is AckStatus.PARTIALLY_ACCEPTED
    assert [(s.control_number, s.status) for s in result.sets] == [
        ("0031", AckStatus.ACCEPTED),
        ("0032", AckStatus.REJECTED),
    ]
    [failure] = result.failures()
    assert failure.replay_key == "OW:1207:0032"
    assert failure.set_id == "940"
    assert "one or more segments in error" in failure.reason
    assert "segment W01 at 7" in failure.reason
    assert "element 4: invalid code value ('XX')" in failure.reason
    assert result.counts == (2, 2, 1)


def test_group_level_accept_without_ak2_accepts_every_set_we_sent(
    fixture_bytes: Callable[[str], bytes], at: datetime
) -> None:
    document = read_x12(fixture_bytes("997_two_interchanges_lf.x12"))
    accept, reject = (ic.groups[0].sets[0] for ic in document.interchanges)
    sent = SentGroup("OW", 1208, (("940", "0033"),))
    result = match_997(accept, [sent])
    assert result.status is AckStatus.ACCEPTED
    assert [(s.control_number, s.status) for s in result.sets] == [("0033", AckStatus.ACCEPTED)]
    assert result.failures() == ()
    rejected = match_997(reject, [SentGroup("OW", 1209, (("940", "0034"),))])
    [failure] = rejected.failures()
    assert (
        failure.reason
        == "set 940 0034 rejected: number of included segments does not match actual count"
    )


def test_whole_group_rejection_without_ak2_is_still_a_failure() -> None:
    ack = TransactionSet(
        "997", "0001", (Segment.of("AK1", "OW", "5"), Segment.of("AK9", "R", "1", "0", "0", "4"))
    )
    result = match_997(ack, [SentGroup("OW", 5, (("940", "0009"),))])
    assert [(s.control_number, s.status) for s in result.sets] == [("0009", AckStatus.REJECTED)]
    assert [f.replay_key for f in result.failures()] == ["OW:5:0009"]
    unmatched = read_997(
        TransactionSet(
            "997",
            "0002",
            (Segment.of("AK1", "OW", "6"), Segment.of("AK9", "R", "0", "0", "0", "1")),
        )
    )
    assert [f.reason for f in unmatched.failures()] == ["group 6 rejected (AK905: 1)"]


def test_997_for_a_group_we_never_sent_is_unmatched() -> None:
    ack = TransactionSet(
        "997",
        "0001",
        (
            Segment.of("AK1", "OW", "99"),
            Segment.of("AK2", "940", "0001"),
            Segment.of("AK5", "A"),
            Segment.of("AK9", "A", "1", "1", "1"),
        ),
    )
    result = match_997(ack, [SentGroup("OW", 5, (("940", "0009"),))])
    assert not result.matched
    assert [s.control_number for s in result.sets] == ["0001"]


def test_997_naming_a_set_we_did_not_send_lists_it_as_unknown() -> None:
    ack = TransactionSet(
        "997",
        "0001",
        (
            Segment.of("AK1", "OW", "5"),
            Segment.of("AK2", "940", "0404"),
            Segment.of("AK5", "A"),
            Segment.of("AK9", "P", "2", "1", "1"),
        ),
    )
    result = match_997(ack, [SentGroup("OW", 5, (("940", "0009"),))])
    assert [s.control_number for s in result.unknown_sets] == ["0404"]
    assert [(s.control_number, s.status) for s in result.sets] == [
        ("0009", AckStatus.NOT_ACKNOWLEDGED)
    ]
