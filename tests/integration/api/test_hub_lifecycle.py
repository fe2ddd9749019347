"""Starting and stopping the hub: a failed start releases everything it opened."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.governance import parse_governance
from crossdock.hub import Hub, HubConfigError

from .conftest import SECRET, governance_text


async def test_a_port_in_use_fails_the_start_and_releases_the_store(tmp_path: Path) -> None:
    governance = parse_governance(governance_text(tmp_path / "hub.db"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hub = Hub(governance, port=port, environ={"TEST_SHOP_WEBHOOK_SECRET": SECRET})
        refused = f"could not listen on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(OSError, match=refused):
            await hub.start()
    assert hub.store is None
    reopened = SQLiteStore(tmp_path / "hub.db")  # the hub lock was released
    await reopened.start()
    await reopened.close()


async def test_a_missing_webhook_secret_fails_the_start_with_its_name(tmp_path: Path) -> None:
    governance = parse_governance(governance_text(tmp_path / "hub.db"))
    hub = Hub(governance, port=0, environ={})
    with pytest.raises(HubConfigError, match="TEST_SHOP_WEBHOOK_SECRET"):
        await hub.start()
    assert hub.store is None
