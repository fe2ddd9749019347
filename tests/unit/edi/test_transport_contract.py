"""One contract suite, run against the drop folder and a real asyncssh SFTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crossdock.connectors.edi.transport import DropFolderTransport, EdiTransport, MailboxLayout
from crossdock.connectors.edi.transport.sftp import SftpSettings, SftpTransport
from crossdock.sandbox.edi3pl import generate_key, serve_sftp


@dataclass
class Mailbox:
    """The transport under test and the partner's direct view of the same directories."""

    transport: EdiTransport
    root: Path
    partner: DropFolderTransport


@pytest.fixture(params=["drop_folder", "sftp"])
async def mailbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Mailbox]:
    root = tmp_path / "mailbox"
    layout = MailboxLayout()
    if request.param == "drop_folder":
        transport: EdiTransport = DropFolderTransport(root, layout)
        partner = DropFolderTransport(root, layout.mirrored())
        yield Mailbox(transport, root, partner)
        await transport.close()
        return
    user_key = generate_key()
    async with serve_sftp(root, username="depositor", client_keys=[user_key]) as server:
        settings = SftpSettings(
            host=server.host,
            port=server.port,
            username="depositor",
            client_keys=[user_key],
            host_keys=[server.host_key],
            layout=layout,
        )
        async with SftpTransport(settings) as sftp:
            partner = DropFolderTransport(root, layout.mirrored())
            yield Mailbox(sftp, root, partner)


async def test_put_outbound_lands_whole_under_its_final_name(mailbox: Mailbox) -> None:
    data = b"ISA*00*" + b"x" * 5000 + b"~"
    await mailbox.transport.put_outbound("940-000000001.x12", data)
    assert await mailbox.partner.list_inbound() == ["940-000000001.x12"]
    assert await mailbox.partner.read("940-000000001.x12") == data
    leftovers = sorted(p.name for p in (mailbox.root / "outbound").iterdir())
    assert leftovers == ["940-000000001.x12"]


async def test_put_outbound_replaces_a_file_of_the_same_name(mailbox: Mailbox) -> None:
    await mailbox.transport.put_outbound("a.x12", b"first")
    await mailbox.transport.put_outbound("a.x12", b"second")
    assert await mailbox.partner.read("a.x12") == b"second"


async def test_list_inbound_is_sorted_and_skips_temp_and_reason_files(mailbox: Mailbox) -> None:
    await mailbox.partner.put_outbound("b.x12", b"B")
    await mailbox.partner.put_outbound("a.x12", b"A")
    inbound = mailbox.root / "inbound"
    (inbound / ".c.x12.1234abcd.part").write_bytes(b"half")
    (inbound / "d.x12.part").write_bytes(b"half")
    (inbound / "sub").mkdir()
    assert await mailbox.transport.list_inbound() == ["a.x12", "b.x12"]
    assert await mailbox.transport.read("a.x12") == b"A"


async def test_archive_moves_the_file_with_a_timestamp(mailbox: Mailbox) -> None:
    await mailbox.partner.put_outbound("945-1.x12", b"advice")
    archived = await mailbox.transport.archive("945-1.x12")
    assert archived.endswith("-945-1.x12")
    assert await mailbox.transport.list_inbound() == []
    assert (mailbox.root / "archive" / archived).read_bytes() == b"advice"
    # A resend of the same name archives beside the first copy, never over it.
    await mailbox.partner.put_outbound("945-1.x12", b"advice again")
    second = await mailbox.transport.archive("945-1.x12")
    assert second != archived
    assert len(list((mailbox.root / "archive").iterdir())) == 2


async def test_quarantine_keeps_the_file_and_its_reason(mailbox: Mailbox) -> None:
    await mailbox.partner.put_outbound("junk.x12", b"not x12 at all")
    kept = await mailbox.transport.quarantine("junk.x12", "no ISA header")
    error = mailbox.root / "error"
    assert (error / kept).read_bytes() == b"not x12 at all"
    assert (error / f"{kept}.reason.txt").read_text() == "no ISA header\n"
    assert await mailbox.transport.list_inbound() == []


@pytest.mark.parametrize("name", ["../escape.x12", ".hidden", "a/b.x12", "x.part", ""])
async def test_unsafe_names_are_refused(mailbox: Mailbox, name: str) -> None:
    with pytest.raises(ValueError, match="mailbox file name"):
        await mailbox.transport.put_outbound(name, b"data")
    assert await mailbox.partner.list_inbound() == []


async def test_a_reader_never_sees_a_partial_file(mailbox: Mailbox) -> None:
    """A reader polling while big files are written only ever sees them whole."""
    payloads = {f"big-{i}.x12": bytes([65 + i]) * (256 * 1024 + i) for i in range(6)}
    seen: dict[str, bytes] = {}
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set() or len(seen) < len(payloads):
            for name in await mailbox.partner.list_inbound():
                if name not in seen:
                    seen[name] = await mailbox.partner.read(name)
            await asyncio.sleep(0)

    async def writer() -> None:
        for name, data in payloads.items():
            await mailbox.transport.put_outbound(name, data)
        done.set()

    await asyncio.wait_for(asyncio.gather(reader(), writer()), timeout=60)
    assert seen == payloads
