"""EDI X12 connector for 3PLs: our own 004010 reader/writer, 997s and warehouse maps.

`EdiConnector` sends 940s and reads 945/856/846/997 files over an `EdiTransport` (a drop
folder here; SFTP in ``crossdock.connectors.edi.transport.sftp`` with the ``edi`` extra).
`EdiHubConnector` puts it behind the hub (``order.release``, ``edi.resend``, inbox decode).
"""

from __future__ import annotations

from crossdock.connectors.edi.connector import EdiConnector, EdiPartner, InboundSink
from crossdock.connectors.edi.hub_adapter import (
    RESEND_COMMAND,
    EdiHubConnector,
    failure_command,
    set_delivery,
)
from crossdock.connectors.edi.receive import Received, ReceivedSet, receive
from crossdock.connectors.edi.results import (
    EdiFailure,
    FailureKind,
    InboundSet,
    PollResult,
    SentInterchange,
)
from crossdock.connectors.edi.state import (
    EdiLedger,
    InMemoryEdiLedger,
    JsonControlNumbers,
    JsonEdiLedger,
    SentRecord,
)
from crossdock.connectors.edi.translit import to_ascii, to_x12_upper
from crossdock.connectors.edi.transport import DropFolderTransport, EdiTransport, MailboxLayout

__all__ = [
    "RESEND_COMMAND",
    "DropFolderTransport",
    "EdiConnector",
    "EdiFailure",
    "EdiHubConnector",
    "EdiLedger",
    "EdiPartner",
    "EdiTransport",
    "FailureKind",
    "InMemoryEdiLedger",
    "InboundSet",
    "InboundSink",
    "JsonControlNumbers",
    "JsonEdiLedger",
    "MailboxLayout",
    "PollResult",
    "Received",
    "ReceivedSet",
    "SentInterchange",
    "SentRecord",
    "failure_command",
    "receive",
    "set_delivery",
    "to_ascii",
    "to_x12_upper",
]
