"""Run several simulators on loopback at once and describe them in a manifest."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossdock.sandbox.kit._registry import create
from crossdock.sandbox.kit._scenario import Scenario
from crossdock.sandbox.kit._server import serve
from crossdock.sandbox.kit._simulator import Simulator
from crossdock.sandbox.kit._tls import LocalCA, default_data_dir

MANIFEST_FORMAT = "crossdock-sandbox-manifest/1"


@dataclass
class RunningSandbox:
    """The simulators of one ``sandbox up``, with their manifest.

    Attributes:
        simulators: Each system's simulator object (in this process: inspect it directly).
        manifest: The JSON-ready manifest (see `write_manifest`).
    """

    simulators: dict[str, Simulator] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def run_sandbox(
    systems: Sequence[str],
    *,
    https: bool = False,
    data_dir: Path | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
    seed: int | None = None,
) -> AsyncIterator[RunningSandbox]:
    """Start the simulators of ``systems`` on loopback ports until the block exits.

    Args:
        systems: Registered system names.
        https: Serve HTTPS with the local CA (made under ``data_dir`` on first use, then reused).
        data_dir: Where the CA lives (default: `default_data_dir`).
        scenarios: A scenario per system (default: each simulator's own).
        seed: Overrides every scenario's seed.

    Yields:
        The running sandbox and its manifest.
    """
    ca = LocalCA.load_or_create(data_dir or default_data_dir()) if https else None
    sandbox = RunningSandbox()
    sandbox.manifest = {
        "format": MANIFEST_FORMAT,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "https": https,
        "ca_cert": str(ca.ca_cert) if ca else None,
        "systems": {},
    }
    async with contextlib.AsyncExitStack() as stack:
        for name in systems:
            sim = create(name, (scenarios or {}).get(name), seed=seed)
            running = await stack.enter_async_context(serve(sim.app, tls=ca))
            sandbox.simulators[name] = sim
            sandbox.manifest["systems"][name] = sim.manifest_entry(running.base_url)
        yield sandbox


def write_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Write the manifest as JSON, atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


class ManifestError(ValueError):
    """A manifest that is missing, malformed, or lacks the system asked for."""


def read_manifest(path: Path) -> dict[str, Any]:
    """Read a manifest written by `write_manifest`.

    Raises:
        ManifestError: The file is missing or not a sandbox manifest.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(f"manifest {path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path} is not a sandbox manifest ({MANIFEST_FORMAT})")
    return data


def system_entry(manifest: Mapping[str, Any], system: str) -> dict[str, Any]:
    """One system's entry of a manifest.

    Raises:
        ManifestError: The manifest has no such system.
    """
    systems = manifest.get("systems", {})
    if system not in systems:
        known = ", ".join(sorted(systems)) or "none"
        raise ManifestError(f"the manifest has no system {system!r} (running: {known})")
    entry: dict[str, Any] = systems[system]
    return entry
