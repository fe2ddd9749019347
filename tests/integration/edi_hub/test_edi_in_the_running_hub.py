"""A running `Hub` with an EDI system: its workers send 940s, its poller reads the 3PL's files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import Command, InboxStatus
from crossdock.canonical import registry
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.edi import DropFolderTransport
from crossdock.governance import parse_governance
from crossdock.hub import Hub, HubConfigError, build_inbound
from crossdock.hub.edi import edi_pollers
from crossdock.sandbox.edi3pl import Edi3plSimulator, generate_key, serve_sftp

from .conftest import SYSTEM, THREE_PL_SIDE, make_order, scenario


def _governance(mailbox: Path, state: Path, extra: str = "") -> str:
    lines = [
        "[hub]",
        'api_host = "127.0.0.1"',
        "api_port = 0",
        "",
        f"[systems.{SYSTEM}]",
        'kind = "edi"',
        f'base_url = "{mailbox.as_uri()}"',
        'settings.sender_id = "CROSSDOCK"',
        'settings.receiver_id = "ACME3PL"',
        'settings.location = "acme-reno"',
        f'settings.state_dir = "{state}"',
        "settings.poll_interval_s = 0.05",
        extra,
        "",
        "[systems.erp]",
        'kind = "netsuite"',
        'base_url = "https://1234567.suitetalk.api.netsuite.com"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "erp"']
    return "\n".join(lines) + "\n"


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_hub_releases_polls_and_decodes(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox"
    governance = parse_governance(_governance(mailbox, tmp_path / "edi-state"))
    sim = Edi3plSimulator(
        scenario(pick_delay_s=0), transport=DropFolderTransport(mailbox, THREE_PL_SIDE)
    )
    store = SQLiteStore(tmp_path / "hub.db")
    await store.start()
    hub = Hub(governance, store=store, environ={})
    try:
        await hub.start()
        assert [p.system for p in hub.edi_pollers] == [SYSTEM]
        order = make_order("SO-1", [("1", "MUG-WHT", 2)])
        command = Command(
            idempotency_key="release:SO-1",
            destination=SYSTEM,
            kind="order.release",
            payload={"order": order.model_dump(mode="json")},
        )
        await store.enqueue(command)

        async def released() -> bool:
            found = await store.find_command("release:SO-1")
            return found is not None and found.status.value == "done"

        await _until(released, "the 940")
        await sim.step()  # 997, 846 and (no pick delay) the 945

        async def decoded() -> bool:
            events = [s.event.type for s in await store.read_events()]
            return "shipment.updated" in events and "inventory.changed" in events

        await _until(decoded, "the shipment and stock events")
        assert await store.list_inbox(InboxStatus.DEAD) == []

        # EDI never arrives over HTTP: the ingress refuses a posted "delivery".
        async with aiohttp.ClientSession() as session:
            url = f"{hub.base_url}/hooks/{SYSTEM}"
            async with session.post(url, data=b"ISA*00*...") as response:
                assert response.status in (401, 403)
    finally:
        await hub.stop()
        await store.close()


async def test_a_system_without_its_identity_is_refused(tmp_path: Path) -> None:
    text = _governance(tmp_path / "mailbox", tmp_path / "state")
    text = text.replace('settings.receiver_id = "ACME3PL"\n', "")
    http = HttpClient(AiohttpTransport())
    try:
        with pytest.raises(HubConfigError, match=rf"systems\.{SYSTEM}\.settings\.receiver_id"):
            build_inbound(parse_governance(text), http, environ={})
    finally:
        await http.transport.aclose()


async def test_an_sftp_mailbox_is_polled_into_the_inbox(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox"
    user_key = generate_key()
    sim = Edi3plSimulator(scenario(), transport=DropFolderTransport(mailbox, THREE_PL_SIDE))
    await sim.send_inventory_advice()
    async with serve_sftp(mailbox, username="crossdock", client_keys=[user_key]) as server:
        host_key = server.host_key.export_public_key().decode("ascii").strip()
        text = _governance(mailbox, tmp_path / "state", f'settings.known_host = "{host_key}"')
        text = text.replace(
            f'base_url = "{mailbox.as_uri()}"',
            f'base_url = "sftp://127.0.0.1:{server.port}/"\n'
            'credentials.username = "env:T_EDI_USER"\n'
            'credentials.private_key = "env:T_EDI_KEY"',
        )
        environ = {
            "T_EDI_USER": "crossdock",
            "T_EDI_KEY": user_key.export_private_key().decode("ascii"),
        }
        store = SQLiteStore(tmp_path / "hub.db")
        await store.start()
        http = HttpClient(AiohttpTransport())
        try:
            systems = build_inbound(parse_governance(text), http, environ=environ)
            [poller] = edi_pollers(store, systems)
            report = await poller.poll_once()
            await poller.edi.transport.close()
        finally:
            await http.transport.aclose()
            await store.close()
    assert report.failures == ()
    assert report.recorded == 1
    assert [s.set_id for s in report.result.sets] == ["846"]
    assert list((mailbox / "inbound").iterdir()) == []  # archived over SFTP
