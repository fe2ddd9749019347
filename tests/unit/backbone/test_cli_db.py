"""`crossdock db upgrade`: applies migrations, says where the schema stands, fails clearly."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from crossdock.backbone._sql import latest_version
from crossdock.cli import app


def test_upgrade_creates_and_then_keeps_an_sqlite_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hub.db"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--url", url])
        assert result.exit_code == 0, result.output
        assert f"sqlite schema at version {latest_version('sqlite')}" in result.output
    assert (tmp_path / "hub.db").exists()


def test_upgrade_reports_an_unreachable_server_without_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://hub:hunter2@127.0.0.1:{port}/hub"
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 1
    assert "unavailable" in result.output
    assert "hunter2" not in result.output
