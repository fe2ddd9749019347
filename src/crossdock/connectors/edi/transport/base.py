"""The transport protocol and the naming rules every implementation shares."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

TEMP_PREFIX = "."
TEMP_SUFFIX = ".part"
REASON_SUFFIX = ".reason.txt"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class MailboxLayout:
    """Directory names of one side of a mailbox, relative to its root.

    Attributes:
        inbound: Where the partner drops files for us.
        outbound: Where we drop files for the partner.
        archive: Where processed inbound files are moved (with a timestamp prefix).
        error: Where unreadable inbound files are kept, each with a ``.reason.txt``.
    """

    inbound: str = "inbound"
    outbound: str = "outbound"
    archive: str = "archive"
    error: str = "error"

    def mirrored(
        self, archive: str = "partner-archive", error: str = "partner-error"
    ) -> MailboxLayout:
        """The partner's view of the same mailbox: our outbound is its inbound."""
        return MailboxLayout(self.outbound, self.inbound, archive, error)

    @property
    def directories(self) -> tuple[str, str, str, str]:
        """The four directory names."""
        return (self.inbound, self.outbound, self.archive, self.error)


class EdiTransport(Protocol):
    """Moves whole files between us and a trading partner.

    Writers hand files over atomically (temp name, then rename), so a reader never sees a
    partial file; readers ignore temp names.
    """

    async def list_inbound(self) -> list[str]:
        """Names of complete files waiting in the inbound directory, sorted."""
        ...

    async def read(self, name: str) -> bytes:
        """The bytes of one inbound file."""
        ...

    async def put_outbound(self, name: str, data: bytes) -> None:
        """Hand ``data`` to the partner as ``name``: written to a temp name, then renamed."""
        ...

    async def archive(self, name: str) -> str:
        """Move a processed inbound file to the archive; returns its archived name."""
        ...

    async def quarantine(self, name: str, reason: str) -> str:
        """Move an unreadable inbound file to the error directory with a reason file.

        Returns:
            The file's name in the error directory.
        """
        ...

    async def close(self) -> None:
        """Release connections (a no-op for a drop folder)."""
        ...


def check_name(name: str) -> str:
    """A file name safe to use in a mailbox (no path, no temp marker).

    Raises:
        ValueError: The name holds a path separator, starts with a dot or ends in ``.part``.
    """
    if not _SAFE_NAME.match(name) or is_temp_name(name) or name.endswith(REASON_SUFFIX):
        raise ValueError(f"{name!r} is not a mailbox file name (letters, digits, . _ - only)")
    return name


def is_temp_name(name: str) -> bool:
    """True for a file still being written (readers skip it)."""
    return name.startswith(TEMP_PREFIX) or name.endswith(TEMP_SUFFIX)


def temp_name(name: str) -> str:
    """A unique temp name for ``name`` in the same directory."""
    return f"{TEMP_PREFIX}{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def archive_name(name: str, at: datetime | None = None) -> str:
    """``<UTC timestamp>-<name>``: archived copies of a resent file never collide."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(2)}-{name}"


def visible(names: list[str]) -> list[str]:
    """Complete files of a directory listing, sorted (temp and reason files left out)."""
    return sorted(
        n
        for n in names
        if not is_temp_name(n) and not n.endswith(REASON_SUFFIX) and n not in (".", "..")
    )
