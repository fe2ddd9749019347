"""A drop folder on a local (or mounted) file system: fsync'd temp file, then rename."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from crossdock.connectors.edi.transport.base import (
    REASON_SUFFIX,
    MailboxLayout,
    archive_name,
    check_name,
    temp_name,
    visible,
)


class DropFolderTransport:
    """An `EdiTransport` over directories under ``root`` (created when missing).

    Args:
        root: The mailbox root.
        layout: Directory names (default ``inbound/ outbound/ archive/ error/``).
    """

    def __init__(self, root: Path, layout: MailboxLayout | None = None) -> None:
        self.root = root
        self.layout = layout or MailboxLayout()
        for directory in self.layout.directories:
            (root / directory).mkdir(parents=True, exist_ok=True)

    def _dir(self, which: str) -> Path:
        return self.root / which

    async def list_inbound(self) -> list[str]:
        """Complete files in ``inbound/``, sorted by name."""
        inbound = self._dir(self.layout.inbound)
        names = await asyncio.to_thread(lambda: [p.name for p in inbound.iterdir() if p.is_file()])
        return visible(names)

    async def read(self, name: str) -> bytes:
        """The bytes of ``inbound/<name>``."""
        path = self._dir(self.layout.inbound) / check_name(name)
        return await asyncio.to_thread(path.read_bytes)

    async def put_outbound(self, name: str, data: bytes) -> None:
        """Write ``outbound/.<name>.<random>.part``, fsync it, rename it to ``outbound/<name>``."""
        await asyncio.to_thread(
            write_atomically, self._dir(self.layout.outbound), check_name(name), data
        )

    async def archive(self, name: str) -> str:
        """Move ``inbound/<name>`` to ``archive/<timestamp>-<name>``."""
        target = archive_name(check_name(name))
        await asyncio.to_thread(
            _move, self._dir(self.layout.inbound) / name, self._dir(self.layout.archive) / target
        )
        return target

    async def quarantine(self, name: str, reason: str) -> str:
        """Move ``inbound/<name>`` to ``error/<timestamp>-<name>`` beside a ``.reason.txt``."""
        target = archive_name(check_name(name))
        error = self._dir(self.layout.error)
        note = (reason.rstrip("\n") + "\n").encode("utf-8")
        await asyncio.to_thread(write_atomically, error, target + REASON_SUFFIX, note)
        await asyncio.to_thread(_move, self._dir(self.layout.inbound) / name, error / target)
        return target

    async def close(self) -> None:
        """Nothing to release."""


def write_atomically(directory: Path, name: str, data: bytes) -> None:
    """Write ``directory/name`` so that no reader ever sees part of it.

    The bytes go to a temp name in the same directory, are fsync'd, then renamed over the final
    name; the directory is fsync'd so the rename survives a crash.
    """
    tmp = directory / temp_name(name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, directory / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def _move(source: Path, target: Path) -> None:
    os.rename(source, target)
    _fsync_dir(target.parent)
    if source.parent != target.parent:
        _fsync_dir(source.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
