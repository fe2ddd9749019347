"""Control number sources for ISA13, GS06 and ST02 (injectable; persisted ones come later)."""

from __future__ import annotations

from typing import Protocol

MAX_CONTROL = 999_999_999


class ControlNumbers(Protocol):
    """Hands out the next interchange, group and set control numbers."""

    def next_interchange(self) -> int:
        """Next ISA13 (1..999999999)."""
        ...

    def next_group(self) -> int:
        """Next GS06 (1..999999999)."""
        ...

    def next_set(self) -> int:
        """Next ST02 number (written zero-padded to at least 4 digits)."""
        ...


class InMemoryControlNumbers:
    """Three counters in memory, each wrapping from 999999999 back to 1.

    Args:
        interchange: Next ISA13 to hand out.
        group: Next GS06 to hand out.
        set_: Next ST02 to hand out.
    """

    def __init__(self, interchange: int = 1, group: int = 1, set_: int = 1) -> None:
        self._next = {"interchange": interchange, "group": group, "set": set_}

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = 1 if value >= MAX_CONTROL else value + 1
        return value

    def next_interchange(self) -> int:
        """Next ISA13."""
        return self._take("interchange")

    def next_group(self) -> int:
        """Next GS06."""
        return self._take("group")

    def next_set(self) -> int:
        """Next ST02 number."""
        return self._take("set")


def format_set_control(number: int) -> str:
    """ST02 text: at least 4 digits, at most 9."""
    if not 1 <= number <= MAX_CONTROL:
        raise ValueError(f"a set control number is 1..{MAX_CONTROL}, got {number}")
    return f"{number:04d}"
