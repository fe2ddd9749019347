"""`crossdock serve --config FILE` as a process: it serves, stores, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from .conftest import ORDER_1043, SECRET, governance_text, shopify_headers

CROSSDOCK = Path(sys.executable).with_name("crossdock")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_ready(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> None:
    while True:
        assert process.returncode is None, "crossdock serve exited before it was ready"
        try:
            async with session.get(url) as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)


@pytest.mark.system
async def test_serve_receives_a_delivery_and_shuts_down_gracefully(tmp_path: Path) -> None:
    config = tmp_path / "crossdock.toml"
    config.write_text(governance_text(tmp_path / "hub.db"), encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "TEST_SHOP_WEBHOOK_SECRET": SECRET}
    process = await asyncio.create_subprocess_exec(
        str(CROSSDOCK),
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_ready(session, f"{base}/readyz", process)
            body = ORDER_1043.read_bytes()
            headers = shopify_headers(body, event_id="evt-cli")
            async with session.post(f"{base}/hooks/shop", data=body, headers=headers) as answer:
                assert answer.status == 200
                assert (await answer.json())["duplicate"] is False
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "hub started" in events
    assert "hub stopped" in events
    assert SECRET not in stderr.decode()
