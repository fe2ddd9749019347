"""Errors of the governance file: each problem is one line naming the file, key and reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a governance file.

    Attributes:
        key: The dotted path of the offending key, for example ``ownership.order.owners.netsuite``;
            for a TOML syntax error, the line and column.
        reason: What is wrong, in words an operator can act on. Never contains a secret value.
    """

    key: str
    reason: str

    def line(self, source: str) -> str:
        """Return the problem as one line: ``<source>: <key>: <reason>``."""
        return f"{source}: {self.key}: {self.reason}"


class GovernanceError(Exception):
    """The governance file is invalid.

    Attributes:
        source: The file (or other source) that was loaded.
        errors: Every problem found, one line each, naming the file, the key and the reason.
    """

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.errors: list[str] = [problem.line(source) for problem in self.problems]
        count = len(self.errors)
        summary = f"{source}: {count} problem{'s' if count != 1 else ''} in the governance file"
        super().__init__("\n".join([summary, *self.errors]))


class SecretResolutionError(LookupError):
    """A credential reference names an environment variable that is not set (or is empty)."""
