"""A bounded log of the recent requests a simulator served, for ``GET /_sandbox/requests``."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One served request: what came in, what went out, and which fault (if any) hit it."""

    seq: int
    method: str
    path: str
    query: str
    status: int | None
    fault: str
    duration_ms: float
    idempotency_key: str | None = None


class RequestLog:
    """The last ``capacity`` requests, oldest first."""

    def __init__(self, capacity: int = 2000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._seq = 0

    def next_seq(self) -> int:
        """A fresh sequence number for a request that is starting."""
        self._seq += 1
        return self._seq

    def add(self, record: RequestRecord) -> None:
        """Append a finished request."""
        self._records.append(record)

    def recent(
        self, limit: int | None = None, path_prefix: str | None = None
    ) -> list[RequestRecord]:
        """The most recent records (all of them when ``limit`` is None), oldest first."""
        prefix = path_prefix or ""
        records = [r for r in self._records if r.path.startswith(prefix)]
        return records[-limit:] if limit else records

    def as_json(
        self, limit: int | None = None, path_prefix: str | None = None
    ) -> list[dict[str, Any]]:
        """The recent records as JSON-ready dicts."""
        return [asdict(r) for r in self.recent(limit, path_prefix)]

    def clear(self) -> None:
        """Forget every record."""
        self._records.clear()
