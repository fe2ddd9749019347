"""Declared state machines: states and transitions as data, exported for the console.

A flow declares its `StateMachine`; its decisions move an instance only along declared
transitions (`StateMachine.check` raises `UndeclaredTransition` otherwise), so the drawing the
console shows (`to_dict`, `to_mermaid`) is the behaviour the code has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["State", "StateMachine", "Transition", "UndeclaredTransition"]


class UndeclaredTransition(Exception):  # noqa: N818 - a programming error named for what it is
    """A decision tried to move an instance along a transition the machine does not declare."""


@dataclass(frozen=True, slots=True)
class State:
    """One state.

    Attributes:
        name: The state's name (what the instance state's ``status`` holds).
        description: What being in it means.
        kind: ``main`` (the happy path), ``exception`` or ``final``.
    """

    name: str
    description: str
    kind: str = "main"


@dataclass(frozen=True, slots=True)
class Transition:
    """A move from `source` to `target` on `trigger` (an event type or a named condition)."""

    source: str
    target: str
    trigger: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A flow's declared states and transitions."""

    name: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.states]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate state names")
        known = set(names)
        if self.initial not in known:
            raise ValueError(f"{self.name}: initial state {self.initial!r} is not declared")
        for t in self.transitions:
            if t.source not in known or t.target not in known:
                raise ValueError(f"{self.name}: transition {t} names an undeclared state")

    @property
    def state_names(self) -> frozenset[str]:
        """Every declared state's name."""
        return frozenset(s.name for s in self.states)

    def allows(self, source: str, target: str) -> bool:
        """True when a transition from `source` to `target` is declared."""
        return any(t.source == source and t.target == target for t in self.transitions)

    def check(self, source: str, target: str) -> None:
        """Raise `UndeclaredTransition` unless `source` -> `target` is declared."""
        if not self.allows(source, target):
            raise UndeclaredTransition(f"{self.name}: {source} -> {target} is not declared")

    def to_dict(self) -> dict[str, Any]:
        """Return the machine as plain JSON data (for the console and the API)."""
        return {
            "name": self.name,
            "initial": self.initial,
            "states": [
                {"name": s.name, "kind": s.kind, "description": s.description} for s in self.states
            ],
            "transitions": [
                {
                    "source": t.source,
                    "target": t.target,
                    "trigger": t.trigger,
                    "description": t.description,
                }
                for t in self.transitions
            ],
        }

    def to_mermaid(self) -> str:
        """Return the machine as a Mermaid ``stateDiagram-v2``."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            lines.append(f"    {t.source} --> {t.target}: {t.trigger}")
        for s in self.states:
            if s.kind == "final":
                lines.append(f"    {s.name} --> [*]")
        for s in self.states:
            if s.kind == "exception":
                lines.append(f"    class {s.name} exception")
        lines.append("    classDef exception fill:#fde,stroke:#c33")
        return "\n".join(lines) + "\n"
