"""The effect ledger: what a simulator actually did, per business key, to prove exactly-once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class KeyEffects:
    """Effects recorded for one business key (for example one order, one SKU at a location).

    Attributes:
        attempts: Calls that asked for the effect (a create, a set, a refund...).
        created: Records or changes actually made.
        duplicates_refused: Repeated attempts answered with an error (e.g. a 422 "taken").
        duplicates_absorbed: Repeated attempts answered as success without a second effect
            (an idempotency key replay, an upsert that matched).
        last_state: The last state the simulator recorded for the key.
    """

    attempts: int = 0
    created: int = 0
    duplicates_refused: int = 0
    duplicates_absorbed: int = 0
    last_state: Any = None
    history: list[str] = field(default_factory=list)


class EffectLedger:
    """Counts attempts and effects per ``(kind, key)``; served by ``GET /_sandbox/effects``."""

    def __init__(self) -> None:
        self._effects: defaultdict[str, dict[str, KeyEffects]] = defaultdict(dict)

    def _entry(self, kind: str, key: str) -> KeyEffects:
        return self._effects[kind].setdefault(key, KeyEffects())

    def attempt(self, kind: str, key: str) -> None:
        """Record a call that asked for an effect on ``key``."""
        entry = self._entry(kind, key)
        entry.attempts += 1
        entry.history.append("attempt")

    def created(self, kind: str, key: str, state: Any = None) -> None:
        """Record an effect actually made on ``key``."""
        entry = self._entry(kind, key)
        entry.created += 1
        entry.history.append("created")
        if state is not None:
            entry.last_state = state

    def refused(self, kind: str, key: str) -> None:
        """Record a repeated attempt that the system refused."""
        entry = self._entry(kind, key)
        entry.duplicates_refused += 1
        entry.history.append("refused")

    def absorbed(self, kind: str, key: str) -> None:
        """Record a repeated attempt answered as success with no second effect."""
        entry = self._entry(kind, key)
        entry.duplicates_absorbed += 1
        entry.history.append("absorbed")

    def state(self, kind: str, key: str, state: Any) -> None:
        """Record the latest state of ``key`` without counting an effect."""
        self._entry(kind, key).last_state = state

    def get(self, kind: str, key: str) -> KeyEffects | None:
        """The effects on one key, if any were recorded."""
        return self._effects.get(kind, {}).get(key)

    def report(self, kind: str | None = None, key: str | None = None) -> dict[str, Any]:
        """JSON-ready effects, optionally narrowed to one kind and one key."""
        kinds = [kind] if kind is not None else sorted(self._effects)
        out: dict[str, Any] = {}
        for k in kinds:
            entries = self._effects.get(k, {})
            keys = [key] if key is not None else sorted(entries)
            out[k] = {name: asdict(entries[name]) for name in keys if name in entries}
        return out

    def clear(self) -> None:
        """Forget everything (used by ``POST /_sandbox/reset``)."""
        self._effects.clear()
