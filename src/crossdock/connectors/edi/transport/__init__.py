"""How EDI files reach the partner and come back: one protocol, a drop folder, SFTP.

``SftpTransport`` lives in ``crossdock.connectors.edi.transport.sftp`` (it needs the
``edi`` extra, asyncssh).
"""

from __future__ import annotations

from crossdock.connectors.edi.transport.base import (
    EdiTransport,
    MailboxLayout,
    archive_name,
    is_temp_name,
    temp_name,
)
from crossdock.connectors.edi.transport.folder import DropFolderTransport

__all__ = [
    "DropFolderTransport",
    "EdiTransport",
    "MailboxLayout",
    "archive_name",
    "is_temp_name",
    "temp_name",
]
