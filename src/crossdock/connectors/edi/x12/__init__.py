"""X12 004010 envelope layer: read, write, check and acknowledge interchanges."""

from __future__ import annotations

from crossdock.connectors.edi.x12.ack997 import ack_997_body, acknowledge
from crossdock.connectors.edi.x12.ack_match import (
    AckFailure,
    AckStatus,
    ElementError,
    GroupAck,
    SegmentError,
    SentGroup,
    SetAck,
    match_997,
    read_997,
)
from crossdock.connectors.edi.x12.builder import Party, SetBody, build_interchange
from crossdock.connectors.edi.x12.control import ControlNumbers, InMemoryControlNumbers
from crossdock.connectors.edi.x12.delimiters import DEFAULT_DELIMITERS, Delimiters
from crossdock.connectors.edi.x12.envelope import (
    Element,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
)
from crossdock.connectors.edi.x12.errors import X12EnvelopeError, X12Error, X12WriteError
from crossdock.connectors.edi.x12.findings import Finding, Level
from crossdock.connectors.edi.x12.reader import Document, read_x12
from crossdock.connectors.edi.x12.validate import SegmentRule, SetSchema, validate_set
from crossdock.connectors.edi.x12.writer import WriteOptions, write_x12, write_x12_bytes

__all__ = [
    "DEFAULT_DELIMITERS",
    "AckFailure",
    "AckStatus",
    "ControlNumbers",
    "Delimiters",
    "Document",
    "Element",
    "ElementError",
    "Finding",
    "FunctionalGroup",
    "GroupAck",
    "InMemoryControlNumbers",
    "Interchange",
    "Level",
    "Party",
    "Segment",
    "SegmentError",
    "SegmentRule",
    "SentGroup",
    "SetAck",
    "SetBody",
    "SetSchema",
    "TransactionSet",
    "WriteOptions",
    "X12EnvelopeError",
    "X12Error",
    "X12WriteError",
    "ack_997_body",
    "acknowledge",
    "build_interchange",
    "match_997",
    "read_997",
    "read_x12",
    "validate_set",
    "write_x12",
    "write_x12_bytes",
]
