"""The demo's governance: examples/demo.toml pointed at the simulators that are running.

The file's base URLs are placeholders. `demo_governance` replaces each system's base URL with its
simulator's address from the sandbox manifest and returns the secrets the file's ``env:``
references name, taken from the manifest's test credentials; the caller puts them in the
environment. A system whose simulator is not running is made inactive, with the reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossdock.governance import Governance, SystemConfig, SystemKind

__all__ = [
    "SIMULATOR_OF_KIND",
    "DemoGovernance",
    "default_demo_config",
    "demo_governance",
]

SIMULATOR_OF_KIND: Mapping[SystemKind, str] = {
    SystemKind.SHOPIFY: "shopify",
    SystemKind.SALESFORCE: "salesforce",
    SystemKind.NETSUITE: "netsuite",
    SystemKind.BUSINESSCENTRAL: "businesscentral",
    SystemKind.SHIPSTATION: "shipstation",
    SystemKind.EDI: "edi3pl",
    SystemKind.EASYPOST: "easypost",
}
"""The registered simulator that plays each kind of system."""

# Where a credential's value sits in the simulator's manifest entry, when the names differ.
_ALIASES: Mapping[tuple[SystemKind, str], str] = {
    (SystemKind.SHOPIFY, "webhook_secret"): "client_secret",
}
# Credentials the hub chooses itself (the simulator learns them from the subscription).
_GENERATED: frozenset[tuple[SystemKind, str]] = frozenset({(SystemKind.SHIPSTATION, "hook_token")})
EDI_POLL_INTERVAL_S = 1.0
"""How often the demo's hub polls the EDI 3PL's mailbox (the file's own setting wins)."""

# Kinds whose base URL is not the simulator's HTTP address (EDI files travel through a
# mailbox: the simulator's drop folder when it serves one).
_KEEP_BASE_URL: frozenset[SystemKind] = frozenset({SystemKind.EDI})


@dataclass(frozen=True, slots=True)
class DemoGovernance:
    """The demo's governance and what it needs from the environment.

    Attributes:
        governance: The governance file with the simulators' base URLs.
        environ: Environment variable to value, for every ``env:`` reference the manifest
            (or the demo) can fill.
        simulator_of: System name to the simulator that plays it.
        inactive: System name to the reason the demo turned it off (no simulator running).
    """

    governance: Governance
    environ: dict[str, str] = field(default_factory=dict)
    simulator_of: dict[str, str] = field(default_factory=dict)
    inactive: dict[str, str] = field(default_factory=dict)


def default_demo_config(start: Path | None = None) -> Path | None:
    """Find examples/demo.toml: under the working directory, else beside the source tree."""
    candidates = [(start or Path.cwd()) / "examples" / "demo.toml"]
    candidates.append(Path(__file__).resolve().parents[4] / "examples" / "demo.toml")
    return next((path for path in candidates if path.is_file()), None)


def _credential(
    kind: SystemKind, name: str, credentials: Mapping[str, Any], generated: dict[str, str]
) -> str | None:
    if (kind, name) in _GENERATED:
        return generated.setdefault(f"{kind}:{name}", secrets.token_urlsafe(32))
    value = credentials.get(_ALIASES.get((kind, name), name))
    return str(value) if isinstance(value, str | int) and str(value) else None


def _system(
    name: str, config: SystemConfig, entry: Mapping[str, Any], state_dir: Path | None
) -> SystemConfig:
    update: dict[str, Any] = {}
    credentials = entry.get("credentials", {})
    if config.kind not in _KEEP_BASE_URL:
        update["base_url"] = str(entry["base_url"])
    elif config.kind is SystemKind.EDI and credentials.get("mailbox"):
        # The 3PL simulator serves a drop folder: the hub reads and writes the same one.
        update["base_url"] = Path(str(credentials["mailbox"])).resolve().as_uri()
        if state_dir is not None:  # control numbers and the sent ledger belong to this run
            update["settings"] = {
                "poll_interval_s": EDI_POLL_INTERVAL_S,
                **config.settings,
                "state_dir": str(state_dir / name),
            }
    if config.kind is SystemKind.SHOPIFY and credentials.get("shop_domain"):
        update["settings"] = {**config.settings, "shop_domain": str(credentials["shop_domain"])}
    return config.model_copy(update=update)


def demo_governance(
    base: Governance, manifest: Mapping[str, Any], *, edi_state_dir: Path | None = None
) -> DemoGovernance:
    """Point `base` at the simulators of `manifest`; collect the secrets its references name.

    Args:
        base: The loaded demo governance file (placeholder base URLs).
        manifest: The running sandbox's manifest (`RunningSandbox.manifest`).
        edi_state_dir: Where an EDI system served by the simulator's drop folder keeps its
            control numbers and sent ledger (one subdirectory per system; a fresh one per
            demo, or the previous run's ledger would take today's 940s for resends).
    """
    running: Mapping[str, Any] = manifest.get("systems", {})
    systems: dict[str, SystemConfig] = {}
    environ: dict[str, str] = {}
    simulator_of: dict[str, str] = {}
    inactive: dict[str, str] = {}
    generated: dict[str, str] = {}
    for name, config in base.systems.items():
        simulator = SIMULATOR_OF_KIND.get(config.kind, str(config.kind))
        entry = running.get(simulator)
        if entry is None:
            if config.active:
                inactive[name] = f"no {simulator} simulator is running"
            systems[name] = config.model_copy(update={"active": False})
            continue
        simulator_of[name] = simulator
        systems[name] = _system(name, config, entry, edi_state_dir)
        credentials = entry.get("credentials", {})
        for credential, ref in config.credentials.items():
            value = _credential(config.kind, credential, credentials, generated)
            if value is not None:
                environ[ref.variable] = value
    governance = base.model_copy(update={"systems": systems})
    return DemoGovernance(governance, environ, simulator_of, inactive)
