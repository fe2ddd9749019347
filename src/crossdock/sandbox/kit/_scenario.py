"""Scenario files: the seed and the initial state of a simulator, in TOML or JSON."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


class ScenarioError(ValueError):
    """A scenario file that cannot be read or has the wrong shape."""


@dataclass(frozen=True)
class Scenario:
    """What a simulator starts from.

    Attributes:
        seed: The seed of every random choice the simulator makes (faults, webhook chaos, ids).
        data: The system-specific initial state (products, stock, orders...), as decoded.
        name: A label for logs and the manifest.
    """

    seed: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    name: str = "default"


def parse_scenario(text: str, *, fmt: str, name: str = "default") -> Scenario:
    """Decode a scenario from text.

    Args:
        text: The file's content.
        fmt: ``"toml"`` or ``"json"``.
        name: A label for the scenario.

    Returns:
        The scenario; numbers with a fraction decode as ``Decimal``, never float.

    Raises:
        ScenarioError: The text does not decode, or its top level is not a table/object.
    """
    try:
        if fmt == "toml":
            raw: Any = tomllib.loads(text, parse_float=Decimal)
        elif fmt == "json":
            raw = json.loads(text, parse_float=Decimal)
        else:
            raise ScenarioError(f"unknown scenario format {fmt!r}: use toml or json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"scenario {name!r} does not decode as {fmt}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario {name!r} must be a table/object at the top level")
    seed = raw.pop("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScenarioError(f"scenario {name!r}: seed must be an integer, got {seed!r}")
    return Scenario(seed=seed, data=raw, name=str(raw.pop("name", name)))


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; the format is chosen by its suffix (``.toml`` or ``.json``).

    Raises:
        ScenarioError: The file is missing, unreadable, of an unknown kind, or malformed.
    """
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in {"toml", "json"}:
        raise ScenarioError(f"{path.name}: a scenario file ends in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path.name}: {exc}") from exc
    return parse_scenario(text, fmt=suffix, name=path.stem)
