"""The 3PL's SFTP server: asyncssh on loopback, chrooted to the mailbox, public-key login."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RunningSftp:
    """A listening SFTP server.

    Attributes:
        host: ``127.0.0.1``.
        port: The bound port.
        username: The one account.
        host_key: The server's public host key (clients trust it).
        root: The directory the account is chrooted to.
    """

    host: str
    port: int
    username: str
    host_key: asyncssh.SSHKey
    root: Path


def generate_key() -> asyncssh.SSHKey:
    """A fresh Ed25519 private key (host key or test user key)."""
    return asyncssh.generate_private_key("ssh-ed25519")


def _prepare_root(root: Path) -> bytes:
    root.mkdir(parents=True, exist_ok=True)
    return os.fsencode(root.resolve())


class _KeyOnlyServer(asyncssh.SSHServer):
    def __init__(self, username: str, keys: Sequence[asyncssh.SSHKey]) -> None:
        self._username = username
        self._keys = {k.public_data for k in keys}

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._username and key.public_data in self._keys


@contextlib.asynccontextmanager
async def serve_sftp(
    root: Path,
    *,
    username: str,
    client_keys: Sequence[asyncssh.SSHKey],
    host_key: asyncssh.SSHKey | None = None,
    port: int = 0,
) -> AsyncIterator[RunningSftp]:
    """Serve ``root`` over SFTP on ``127.0.0.1`` until the block exits.

    Args:
        root: The directory the account sees as ``/``.
        username: The only account.
        client_keys: Keys (private or public) whose public halves may log in.
        host_key: The server's private host key (default: a fresh Ed25519 key).
        port: The port; 0 lets the OS choose.
    """
    chroot = _prepare_root(root)
    key = host_key or generate_key()

    def make_sftp(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=chroot)

    server = await asyncssh.listen(
        LOOPBACK,
        port,
        server_host_keys=[key],
        server_factory=lambda: _KeyOnlyServer(username, client_keys),
        sftp_factory=make_sftp,
        allow_scp=False,
    )
    try:
        bound = server.get_port()
        public = asyncssh.import_public_key(key.export_public_key())
        yield RunningSftp(LOOPBACK, bound, username, public, root)
    finally:
        server.close()
        await server.wait_closed()
