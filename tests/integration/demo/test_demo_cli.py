"""`crossdock demo` as a process: a bounded run with its summary, and an open-ended run stopped."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest

from .conftest import CROSSDOCK, dead_inbox, explained_dead_inbox, store_counts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _summary_value(output: str, label: str) -> int:
    match = re.search(rf"{re.escape(label)}\s*│\s*(\d+)\s*│", output)
    assert match is not None, f"no {label!r} row in the summary:\n{output}"
    return int(match.group(1))


@pytest.mark.system
def test_bounded_demo_places_orders_drains_and_summarises(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "160"}
    env.pop("CROSSDOCK_DATABASE_URL", None)
    command = [str(CROSSDOCK), "demo", "--orders", "10", "--rate", "20", "--no-live"]
    command += ["--port", "0", "--data-dir", str(data_dir), "--seed", "7"]
    done = subprocess.run(
        command,
        cwd=tmp_path,  # examples/demo.toml is found beside the source tree
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert _summary_value(out, "orders placed") == 10
    assert "drained" in out
    assert re.search(r"drained\s*│\s*yes", out)
    assert "Not reached in the demo" in out

    events, dead, subjects = store_counts(data_dir / "crossdock.db")
    assert events["order.placed"] == 10
    assert _summary_value(out, "order.placed") == 10
    assert _summary_value(out, "orders by flow state") == 10
    assert _summary_value(out, "commands still queued") == 0
    assert events.get("erp.sales_order.created", 0) > 0
    assert len(set(subjects)) == 10
    rows = dead_inbox(data_dir / "crossdock.db")
    assert all(explained_dead_inbox(source, reason) for source, reason in rows), rows
    assert _summary_value(out, "dead inbox rows") == len(dead)
    assert not (data_dir / "sandbox.json").exists()  # the simulators are gone with the demo

    order_id = subjects[0].rsplit("/", 1)[1]
    shown = subprocess.run(
        [
            str(CROSSDOCK),
            "order",
            "show",
            order_id,
            "--database-url",
            str(data_dir / "crossdock.db"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "order.placed" in shown.stdout
    assert subjects[0] in shown.stdout


async def _get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with session.get(url) as answer:
        return answer.status, await answer.json(content_type=None)


@pytest.mark.system
async def test_open_ended_demo_serves_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CROSSDOCK_DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        str(CROSSDOCK),
        "demo",
        "--no-live",
        "--rate",
        "10",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            timeline: object = None
            async with asyncio.timeout(60):
                while timeline is None:
                    assert process.returncode is None, "the demo exited on its own"
                    await asyncio.sleep(0.2)
                    try:
                        status, _ = await _get_json(session, f"{base}/readyz")
                    except aiohttp.ClientConnectionError:
                        continue
                    if status != 200 or not (data_dir / "sandbox.json").exists():
                        continue
                    _, _, subjects = store_counts(data_dir / "crossdock.db")
                    if subjects:
                        order_id = subjects[0].rsplit("/", 1)[1]
                        status, timeline = await _get_json(session, f"{base}/v1/orders/{order_id}")
                        assert status == 200, timeline
        assert isinstance(timeline, dict)
        assert timeline["events"][0]["type"] == "order.placed"
        store = str(data_dir / "crossdock.db")
        # The running demo's store can be read, and no second hub may take it over.
        shown = await asyncio.to_thread(
            subprocess.run,
            [str(CROSSDOCK), "order", "show", order_id, "--database-url", store],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert "order.placed" in shown.stdout
        again = [str(CROSSDOCK), "demo", "--orders", "1", "--no-live", "--port", "0"]
        again += ["--data-dir", str(data_dir)]
        second = await asyncio.to_thread(
            subprocess.run,
            again,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1
        assert "another running hub uses" in second.stderr
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "Crossdock demo summary" in stdout.decode()
    assert not (data_dir / "sandbox.json").exists()
