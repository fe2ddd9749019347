"""`crossdock sandbox`: run the simulators on loopback and steer their faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import ssl
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer
from rich.console import Console
from rich.table import Table

from crossdock.sandbox.kit import (
    ManifestError,
    Scenario,
    ScenarioError,
    UnknownSystemError,
    discovery_errors,
    load_scenario,
    read_manifest,
    run_sandbox,
    system_entry,
    system_names,
    write_manifest,
)

app = typer.Typer(help="Faithful simulators of the external systems, on loopback.")

DEFAULT_MANIFEST = Path(".crossdock/sandbox.json")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from ``200ms``, ``1.5s``, ``2m``, ``1h`` or a bare number of seconds.

    Raises:
        typer.BadParameter: The text is not a duration.
    """
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration (examples: 200ms, 1.5s, 2m)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _split_systems(value: str | None) -> list[str]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    return names or system_names()


def _parse_scenarios(values: list[str]) -> dict[str, Scenario]:
    scenarios = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{value!r}: use SYSTEM=PATH (e.g. shopify=peak.toml)")
        try:
            scenarios[name] = load_scenario(Path(path))
        except ScenarioError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return scenarios


def _render(manifest: dict[str, Any], console: Console) -> None:
    table = Table(title="Crossdock sandbox", show_lines=True)
    table.add_column("system", style="bold")
    table.add_column("base URL")
    table.add_column("credentials")
    for name, entry in manifest["systems"].items():
        creds = "\n".join(f"{k}: {v}" for k, v in entry["credentials"].items())
        table.add_row(name, entry["base_url"], creds)
    console.print(table)
    if manifest.get("ca_cert"):
        console.print(f"CA certificate (trust it for HTTPS): {manifest['ca_cert']}")


async def _serve_until_stopped(
    systems: list[str],
    manifest_path: Path,
    https: bool,
    data_dir: Path | None,
    scenarios: dict[str, Scenario],
    seed: int | None,
    console: Console,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_sandbox(
            systems, https=https, data_dir=data_dir, scenarios=scenarios, seed=seed
        ) as sandbox:
            write_manifest(sandbox.manifest, manifest_path)
            _render(sandbox.manifest, console)
            console.print(f"Manifest: {manifest_path}  (Ctrl-C to stop)")
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        _remove(manifest_path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@app.command()
def up(
    systems: Annotated[
        str | None,
        typer.Option(help="Comma-separated system names (default: all registered)."),
    ] = None,
    manifest: Annotated[Path, typer.Option(help="Where to write the manifest.")] = (
        DEFAULT_MANIFEST
    ),
    https: Annotated[bool, typer.Option(help="Serve HTTPS with the local CA.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the local CA is kept (default: user data dir).")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="SYSTEM=PATH of a .toml or .json scenario; repeatable."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override every scenario's seed.")] = None,
) -> None:
    """Start simulators on loopback, write the manifest, and serve until Ctrl-C or SIGTERM."""
    console = Console()
    names = _split_systems(systems)
    unknown = [n for n in names if n not in system_names()]
    if unknown:
        known = ", ".join(system_names())
        raise typer.BadParameter(f"unknown system(s) {', '.join(unknown)} (known: {known})")
    scenarios = _parse_scenarios(scenario or [])
    try:
        asyncio.run(
            _serve_until_stopped(names, manifest, https, data_dir, scenarios, seed, console)
        )
    except UnknownSystemError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print("Sandbox stopped.")


@app.command("list")
def list_systems() -> None:
    """List the systems that have a simulator (and simulator packages that fail to load)."""
    for name in system_names():
        typer.echo(name)
    for package, reason in discovery_errors().items():
        typer.echo(f"{package}: cannot load ({reason})", err=True)


def _client_ssl(manifest: dict[str, Any]) -> ssl.SSLContext | bool:
    ca_cert = manifest.get("ca_cert")
    return ssl.create_default_context(cafile=ca_cert) if ca_cert else True


async def _admin_call(
    manifest: dict[str, Any], system: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    entry = system_entry(manifest, system)
    url = f"{entry['admin_url']}{path}"
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.request(method, url, json=body, ssl=_client_ssl(manifest)) as response,
    ):
        return response.status, await response.json(content_type=None)


def _load(manifest: Path) -> dict[str, Any]:
    try:
        return read_manifest(manifest)
    except ManifestError as exc:
        raise typer.BadParameter(str(exc)) from exc


def build_fault_body(
    *,
    latency: str | None,
    jitter: str | None,
    error_rate: float,
    error_status: int,
    outage: str | None,
    outage_mode: str,
    hang_rate: float,
    throttle: float,
    phase: str,
    seed: int | None,
) -> dict[str, Any]:
    """The ``POST /_sandbox/faults`` body for the `fault` command's options."""
    body: dict[str, Any] = {
        "latency_ms": parse_duration(latency) * 1000 if latency else 0.0,
        "jitter_ms": parse_duration(jitter) * 1000 if jitter else 0.0,
        "error_rate": error_rate,
        "error_status": error_status,
        "outage_mode": outage_mode,
        "hang_rate": hang_rate,
        "throttle_factor": throttle,
        "fault_phase": phase,
    }
    if outage:
        body["outage_s"] = parse_duration(outage)
    if seed is not None:
        body["seed"] = seed
    return body


@app.command()
def fault(
    system: Annotated[str, typer.Argument(help="The simulated system, as in the manifest.")],
    latency: Annotated[str | None, typer.Option(help="Added latency, e.g. 200ms.")] = None,
    jitter: Annotated[str | None, typer.Option(help="Jitter around it, e.g. 50ms.")] = None,
    error_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
    error_status: Annotated[int, typer.Option(help="Status of injected errors.")] = 500,
    outage: Annotated[str | None, typer.Option(help="An outage from now, e.g. 60s.")] = None,
    outage_mode: Annotated[str, typer.Option(help="503 or reset.")] = "503",
    hang_rate: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
    throttle: Annotated[float, typer.Option(help="Fraction of the real rate limits.")] = 1.0,
    phase: Annotated[str, typer.Option(help="Fail calls before or after their effect.")] = (
        "before"
    ),
    seed: Annotated[int | None, typer.Option(help="Reseed the fault generator.")] = None,
    clear: Annotated[bool, typer.Option(help="Remove every fault.")] = False,
    show: Annotated[bool, typer.Option(help="Only print the faults in force.")] = False,
    manifest: Annotated[Path, typer.Option(help="The sandbox manifest.")] = DEFAULT_MANIFEST,
) -> None:
    """Inject faults into a running simulator (replaces the faults in force)."""
    data = _load(manifest)
    if show:
        method, body = "GET", None
    elif clear:
        method, body = "DELETE", None
    else:
        method = "POST"
        body = build_fault_body(
            latency=latency,
            jitter=jitter,
            error_rate=error_rate,
            error_status=error_status,
            outage=outage,
            outage_mode=outage_mode,
            hang_rate=hang_rate,
            throttle=throttle,
            phase=phase,
            seed=seed,
        )
    try:
        status, answer = asyncio.run(_admin_call(data, system, method, "/faults", body))
    except ManifestError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except aiohttp.ClientError as exc:
        typer.echo(f"cannot reach the {system} simulator: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    if status >= 400:
        raise typer.Exit(1)


@app.command()
def effects(
    system: Annotated[str, typer.Argument(help="The simulated system, as in the manifest.")],
    kind: Annotated[str | None, typer.Option(help="Only this kind (e.g. order).")] = None,
    manifest: Annotated[Path, typer.Option(help="The sandbox manifest.")] = DEFAULT_MANIFEST,
) -> None:
    """Print the effects a running simulator recorded, per business key."""
    data = _load(manifest)
    path = f"/effects?kind={kind}" if kind else "/effects"
    try:
        _, answer = asyncio.run(_admin_call(data, system, "GET", path))
    except ManifestError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except aiohttp.ClientError as exc:
        typer.echo(f"cannot reach the {system} simulator: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))


async def _traffic(manifest: dict[str, Any], system: str, count: int, rate: float) -> list[Any]:
    placed: list[Any] = []
    for n in range(count):
        status, answer = await _admin_call(manifest, system, "POST", "/traffic?count=1")
        if status >= 400:
            raise RuntimeError(f"the {system} simulator refused traffic: {answer}")
        placed += answer.get("order_ids", [])
        if n + 1 < count:
            await asyncio.sleep(1.0 / rate)
    return placed


@app.command()
def traffic(
    system: Annotated[str, typer.Argument(help="The simulated system, as in the manifest.")],
    count: Annotated[int, typer.Option(min=1, help="How many orders to place.")] = 10,
    rate: Annotated[float, typer.Option(min=0.01, help="Orders per second.")] = 1.0,
    manifest: Annotated[Path, typer.Option(help="The sandbox manifest.")] = DEFAULT_MANIFEST,
) -> None:
    """Place realistic storefront orders at a steady rate (some then cancelled or refunded)."""
    data = _load(manifest)
    try:
        placed = asyncio.run(_traffic(data, system, count, rate))
    except ManifestError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except (aiohttp.ClientError, RuntimeError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"system": system, "placed": placed}))
