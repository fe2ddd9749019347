"""The polling cursor: the last ``lastModifiedDateTime`` seen, kept in the backbone.

Business Central stamps changes to the millisecond, and two records can share a stamp. The
cursor therefore polls with ``ge`` and remembers which ids it already saw at its stamp, so a
record changed in the same millisecond as the last one seen is neither lost nor repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from crossdock.backbone.store import Store

CURSOR_FLOW: Final = "businesscentral.poll"
"""The flow-state name under which cursors are kept (the key names the destination and feed)."""


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class PollCursor:
    """Where a change feed stands.

    Attributes:
        since: The latest ``lastModifiedDateTime`` seen, as BC wrote it (None: from the start).
        seen: Ids already returned whose stamp equals `since`.
    """

    since: str | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    def filter(self) -> str | None:
        """The ``$filter`` of the next poll (None: everything)."""
        return None if self.since is None else f"lastModifiedDateTime ge {self.since}"

    def is_new(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` was not returned by an earlier poll."""
        if self.since is None:
            return True
        stamp = _moment(str(record["lastModifiedDateTime"]))
        since = _moment(self.since)
        return stamp > since or (stamp == since and str(record["id"]) not in self.seen)

    def advance(self, records: Iterable[Mapping[str, Any]]) -> PollCursor:
        """The cursor after ``records`` (those returned by this poll)."""
        since, seen = self.since, set(self.seen)
        for record in records:
            stamp = str(record["lastModifiedDateTime"])
            if since is None or _moment(stamp) > _moment(since):
                since, seen = stamp, {str(record["id"])}
            elif _moment(stamp) == _moment(since):
                seen.add(str(record["id"]))
        return PollCursor(since, frozenset(seen))

    def to_json(self) -> dict[str, Any]:
        """The cursor as stored."""
        return {"since": self.since, "seen": sorted(self.seen)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PollCursor:
        """Read a stored cursor."""
        since = data.get("since")
        return cls(str(since) if since else None, frozenset(str(i) for i in data.get("seen", [])))


class CursorStore:
    """Cursors kept as flow state in the backbone, saved with compare-and-set.

    Args:
        store: The backbone store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self, key: str) -> tuple[PollCursor, int]:
        """The cursor under ``key`` and its version (0 when none was saved)."""
        state = await self.store.get_flow_state(CURSOR_FLOW, key)
        if state is None:
            return PollCursor(), 0
        return PollCursor.from_json(state.state), state.version

    async def save(self, key: str, cursor: PollCursor, version: int) -> int:
        """Save ``cursor`` if the stored version is still ``version``; return the new version.

        Raises:
            StaleFlowState: Another poller saved first (its cursor wins; poll again).
        """
        async with self.store.transaction() as tx:
            saved = await tx.save_flow_state(CURSOR_FLOW, key, cursor.to_json(), version)
        return saved.version
