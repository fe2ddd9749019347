"""`crossdock sandbox up`: simulators on loopback, a manifest, faults from the command line."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from crossdock._cli.sandbox import app as sandbox_cli
from crossdock.sandbox.kit import (
    MANIFEST_FORMAT,
    load_scenario,
    read_manifest,
    run_sandbox,
    write_manifest,
)


async def test_run_sandbox_over_https_writes_a_usable_manifest(tmp_path: Path) -> None:
    async with run_sandbox(["shopify"], https=True, data_dir=tmp_path, seed=11) as sandbox:
        path = tmp_path / "sandbox.json"
        write_manifest(sandbox.manifest, path)
        manifest = read_manifest(path)
        assert manifest["format"] == MANIFEST_FORMAT
        entry = manifest["systems"]["shopify"]
        assert entry["base_url"].startswith("https://127.0.0.1:")
        assert entry["seed"] == 11
        creds = entry["credentials"]
        trust = ssl.create_default_context(cafile=manifest["ca_cert"])
        headers = {"X-Shopify-Access-Token": creds["access_token"]}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{creds['admin_api_url']}/shop.json", ssl=trust) as response,
        ):
            assert response.status == 200
            assert (await response.json())["shop"]["myshopify_domain"] == creds["shop_domain"]
        assert sandbox.simulators["shopify"].seed == 11


def test_unknown_system_is_refused_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["up", "--systems", "nope", "--manifest", str(tmp_path / "m.json")]
    )
    assert result.exit_code != 0
    assert "unknown system" in result.output


def test_fault_needs_a_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["fault", "shopify", "--manifest", str(tmp_path / "absent.json")]
    )
    assert result.exit_code != 0
    assert "cannot read manifest" in result.output


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return read_manifest(path)
        if proc.poll() is not None:
            raise AssertionError(f"sandbox up exited early: {proc.stdout and proc.stdout.read()}")
        time.sleep(0.05)
    raise AssertionError("sandbox up wrote no manifest in time")


@pytest.mark.system
def test_sandbox_up_serves_until_sigterm_and_takes_faults(tmp_path: Path) -> None:
    manifest_path = tmp_path / "sandbox.json"
    env = os.environ | {"CROSSDOCK_SANDBOX_DIR": str(tmp_path / "data")}
    code = "from crossdock._cli.sandbox import app; app()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "up",
            "--systems",
            "shopify",
            "--manifest",
            str(manifest_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        manifest = _wait_for(manifest_path, proc)
        runner = CliRunner()
        args = ["fault", "shopify", "--manifest", str(manifest_path)]
        set_faults = runner.invoke(
            sandbox_cli, [*args, "--latency", "20ms", "--error-rate", "0.5", "--outage", "60s"]
        )
        assert set_faults.exit_code == 0, set_faults.output
        shown = json.loads(runner.invoke(sandbox_cli, [*args, "--show"]).output)
        assert shown["faults"]["latency_ms"] == 20
        assert shown["faults"]["outage_remaining_s"] > 0
        cleared = json.loads(runner.invoke(sandbox_cli, [*args, "--clear"]).output)
        assert cleared["faults"]["error_rate"] == 0
        traffic = runner.invoke(
            sandbox_cli, ["traffic", "shopify", "--count", "3", "--rate", "100", *args[2:]]
        )
        assert traffic.exit_code == 0, traffic.output
        assert len(json.loads(traffic.output)["placed"]) == 3
        effects = runner.invoke(
            sandbox_cli, ["effects", "shopify", "--manifest", str(manifest_path)]
        )
        assert json.loads(effects.output)["system"] == "shopify"
        assert "shopify" in manifest["systems"]  # type: ignore[operator]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "Crossdock sandbox" in output
    assert not manifest_path.exists()


SHOP_TOML = """
seed = 99
name = "tiny-shop"

[shop]
domain = "tiny.myshopify.com"
currency = "CHF"
access_token = "shpat_tiny"
client_secret = "tiny-secret"

[[locations]]
key = "zurich"
name = "Zürich"

[[products]]
title = "Käse"
vendor = "Alp"

[[products.variants]]
sku = "KAESE-1"
title = "1 kg"
price = 24.50
stock = { zurich = 12 }
"""


async def test_a_toml_scenario_seeds_the_shop(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(SHOP_TOML, encoding="utf-8")
    scenarios = {"shopify": load_scenario(path)}
    async with run_sandbox(["shopify"], scenarios=scenarios) as sandbox:
        entry = sandbox.manifest["systems"]["shopify"]
        assert (entry["seed"], entry["scenario"]) == (99, "tiny-shop")
        creds = entry["credentials"]
        assert creds["access_token"] == "shpat_tiny"
        headers = {"X-Shopify-Access-Token": "shpat_tiny"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{creds['admin_api_url']}/products.json") as response,
        ):
            [product] = (await response.json())["products"]
    assert product["title"] == "Käse"
    assert product["variants"][0]["price"] == "24.50"
    assert product["variants"][0]["inventory_quantity"] == 12


def test_a_malformed_scenario_option_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sandbox_cli,
        ["up", "--systems", "shopify", "--scenario", "shopify", "--manifest", str(tmp_path / "m")],
    )
    assert result.exit_code != 0
    assert "SYSTEM=PATH" in result.output
