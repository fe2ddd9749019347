"""SFTP with asyncssh: upload to a temp name, fsync when offered, POSIX rename when offered.

Needs the ``edi`` extra (``pip install 'crossdock[edi]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

try:
    import asyncssh
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the SFTP transport needs asyncssh: install the 'edi' extra (crossdock[edi])"
    ) from exc

from crossdock.connectors.edi.transport.base import (
    REASON_SUFFIX,
    MailboxLayout,
    archive_name,
    check_name,
    temp_name,
    visible,
)


@dataclass(frozen=True)
class SftpSettings:
    """Where and how to log in.

    Attributes:
        host: Server host name or address.
        port: Server port.
        username: Login name.
        client_keys: Private keys (``asyncssh.SSHKey`` objects or file paths) to log in with.
        host_keys: Trusted server host public keys; empty means "use ~/.ssh/known_hosts".
        root: The mailbox root on the server ("" = the login directory).
        connect_timeout_s: Give up connecting after this long.
    """

    host: str
    port: int
    username: str
    client_keys: Sequence[asyncssh.SSHKey | str] = ()
    host_keys: Sequence[asyncssh.SSHKey] = ()
    root: str = ""
    connect_timeout_s: float = 15.0
    layout: MailboxLayout = field(default_factory=MailboxLayout)


class SftpTransport:
    """An `EdiTransport` over one SFTP session; use ``async with`` or call `connect`/`close`."""

    def __init__(self, settings: SftpSettings) -> None:
        self.settings = settings
        self.layout = settings.layout
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    async def connect(self) -> None:
        """Open the SSH connection and the SFTP session (creating missing mailbox directories)."""
        if self._sftp is not None:
            return
        s = self.settings
        known_hosts: object = ([*s.host_keys], [], []) if s.host_keys else ()
        self._conn = await asyncssh.connect(
            s.host,
            s.port,
            username=s.username,
            client_keys=list(s.client_keys) or (),
            known_hosts=known_hosts,
            connect_timeout=s.connect_timeout_s,
            agent_path=None,
        )
        self._sftp = await self._conn.start_sftp_client()
        for directory in self.layout.directories:
            await self._sftp.makedirs(self._path(directory), exist_ok=True)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _path(self, directory: str, name: str = "") -> str:
        parts = [p for p in (self.settings.root.rstrip("/"), directory, name) if p]
        return "/".join(parts)

    def _client(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            raise RuntimeError("the SFTP transport is not connected: call connect() first")
        return self._sftp

    async def list_inbound(self) -> list[str]:
        """Complete regular files in the inbound directory, sorted by name."""
        entries = await self._client().readdir(self._path(self.layout.inbound))
        names = [
            str(e.filename)
            for e in entries
            if e.attrs.type in (asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_UNKNOWN)
        ]
        return visible(names)

    async def read(self, name: str) -> bytes:
        """The bytes of one inbound file."""
        path = self._path(self.layout.inbound, check_name(name))
        async with self._client().open(path, "rb") as handle:
            data: bytes = await handle.read()
        return data

    async def put_outbound(self, name: str, data: bytes) -> None:
        """Upload to ``.<name>.<random>.part``, fsync if offered, then rename to ``name``."""
        sftp = self._client()
        final = self._path(self.layout.outbound, check_name(name))
        tmp = self._path(self.layout.outbound, temp_name(name))
        try:
            async with sftp.open(tmp, "wb") as handle:
                await handle.write(data)
                # Without fsync@openssh.com the close below is all we can ask for.
                with contextlib.suppress(asyncssh.SFTPOpUnsupported):
                    await handle.fsync()
            await self._rename(tmp, final)
        except BaseException:
            # The temp file may never have been created.
            with contextlib.suppress(asyncssh.SFTPError, OSError):
                await sftp.remove(tmp)
            raise

    async def archive(self, name: str) -> str:
        """Move a processed inbound file to ``archive/<timestamp>-<name>``."""
        target = archive_name(check_name(name))
        await self._rename(
            self._path(self.layout.inbound, name), self._path(self.layout.archive, target)
        )
        return target

    async def quarantine(self, name: str, reason: str) -> str:
        """Move an unreadable inbound file to ``error/`` with a ``.reason.txt`` beside it."""
        target = archive_name(check_name(name))
        note = (reason.rstrip("\n") + "\n").encode("utf-8")
        sftp = self._client()
        tmp = self._path(self.layout.error, temp_name(target))
        async with sftp.open(tmp, "wb") as handle:
            await handle.write(note)
        await self._rename(tmp, self._path(self.layout.error, target + REASON_SUFFIX))
        await self._rename(
            self._path(self.layout.inbound, name), self._path(self.layout.error, target)
        )
        return target

    async def _rename(self, source: str, target: str) -> None:
        sftp = self._client()
        try:
            await sftp.posix_rename(source, target)
        except asyncssh.SFTPOpUnsupported:
            # Plain SFTPv3 rename refuses an existing target: remove it first (not atomic).
            if await sftp.exists(target):
                await sftp.remove(target)
            await sftp.rename(source, target)

    async def close(self) -> None:
        """Close the SFTP session and the SSH connection."""
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None
