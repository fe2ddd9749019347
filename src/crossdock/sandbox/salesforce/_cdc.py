"""Change Data Capture: the org's change event log, with opaque replay ids and retention.

A committed transaction becomes one change event per changed record, on the channels
``/data/<Entity>ChangeEvent`` and ``/data/ChangeEvents``. Replay ids grow but are not
contiguous (subscribers must treat them as opaque); events older than the retention
(72 hours on the virtual clock) are dropped, and replaying from one of them is refused.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ALL_CHANGES = "/data/ChangeEvents"
RETENTION_S = 72 * 3600.0
GAP_TYPES = {"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"}


def channel_of(entity: str) -> str:
    """``/data/AccountChangeEvent`` for ``Account``."""
    return f"/data/{entity}ChangeEvent"


@dataclass(frozen=True)
class Change:
    """One record's change inside a transaction.

    Attributes:
        entity: ``Account``, ``Contact``, ``Order``.
        record_id: The record.
        change_type: ``CREATE``, ``UPDATE``, ``DELETE``, ``UNDELETE`` or a ``GAP_*`` type.
        fields: The payload fields (all set fields on CREATE, the changed ones on UPDATE).
        changed: ``changedFields``.
        nulled: ``nulledFields``.
    """

    entity: str
    record_id: str
    change_type: str
    fields: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    nulled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoggedEvent:
    """A change event as kept in the log.

    Attributes:
        replay_id: Its replay id.
        channels: The channels it is delivered on.
        commit_s: Commit time (virtual clock, seconds) for retention.
        message: The ``data`` of the CometD message: ``{"schema", "payload", "event"}``.
    """

    replay_id: int
    channels: frozenset[str]
    commit_s: float
    message: dict[str, Any]


class ReplayIdInvalidError(Exception):
    """A subscription asked to replay from an id the log no longer (or never) held."""


class ChangeLog:
    """The retained change events, in replay order.

    Args:
        seed: Seeds the replay-id steps.
        now: The virtual clock's ``now`` (seconds).
        retention_s: How long events are kept.
    """

    def __init__(
        self, seed: int, now: Callable[[], float], retention_s: float = RETENTION_S
    ) -> None:
        self._random = random.Random(seed)
        self._now = now
        self.retention_s = retention_s
        self.events: list[LoggedEvent] = []
        self.latest = self._random.randrange(1000, 5000)
        self.generation = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def _next_replay_id(self) -> int:
        self.latest += self._random.randint(1, 7)
        return self.latest

    def publish(
        self,
        changes: Sequence[Change],
        *,
        origin: str,
        transaction_key: str,
        commit_number: int,
        commit_user: str,
        commit_ms: int,
    ) -> list[LoggedEvent]:
        """Log the change events of one committed transaction."""
        logged = []
        for sequence, change in enumerate(changes, start=1):
            header = {
                "entityName": change.entity,
                "recordIds": [change.record_id],
                "changeType": change.change_type,
                "changeOrigin": origin,
                "transactionKey": transaction_key,
                "sequenceNumber": sequence,
                "commitTimestamp": commit_ms,
                "commitNumber": commit_number,
                "commitUser": commit_user,
                "changedFields": list(change.changed),
                "diffFields": [],
                "nulledFields": list(change.nulled),
            }
            logged.append(
                self._append(change.entity, {"ChangeEventHeader": header, **change.fields})
            )
        return logged

    def _append(self, entity: str, payload: dict[str, Any]) -> LoggedEvent:
        replay_id = self._next_replay_id()
        event = LoggedEvent(
            replay_id=replay_id,
            channels=frozenset({channel_of(entity), ALL_CHANGES}),
            commit_s=self._now(),
            message={
                "schema": f"{entity}ChangeEvent-schema-1",
                "payload": payload,
                "event": {"replayId": replay_id},
            },
        )
        self.events.append(event)
        self.generation += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        return event

    def gap(
        self,
        entity: str,
        record_ids: Sequence[str],
        change_type: str,
        *,
        commit_ms: int,
        commit_user: str,
    ) -> LoggedEvent:
        """Log a gap event: the records changed, but the change itself was not captured."""
        if change_type not in GAP_TYPES:
            raise ValueError(f"not a gap type: {change_type}")
        header = {
            "entityName": entity,
            "recordIds": list(record_ids),
            "changeType": change_type,
            "changeOrigin": "",
            "transactionKey": "",
            "sequenceNumber": 1,
            "commitTimestamp": commit_ms,
            "commitNumber": 0,
            "commitUser": commit_user,
            "changedFields": [],
            "diffFields": [],
            "nulledFields": [],
        }
        return self._append(entity, {"ChangeEventHeader": header})

    def prune(self) -> None:
        """Drop what is older than the retention."""
        horizon = self._now() - self.retention_s
        kept = [e for e in self.events if e.commit_s >= horizon]
        if len(kept) != len(self.events):
            self.events = kept

    def check_replay(self, replay_id: int) -> None:
        """Refuse a replay id that is not -1, -2, the latest, or a retained event's.

        Raises:
            ReplayIdInvalidError: The event is outside the retention window (or never was).
        """
        self.prune()
        if replay_id in (-1, -2) or replay_id == self.latest:
            return
        if not any(event.replay_id == replay_id for event in self.events):
            raise ReplayIdInvalidError(str(replay_id))

    def after(self, channel: str, replay_id: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` retained events of ``channel`` after ``replay_id``."""
        self.prune()
        found = []
        for event in self.events:
            if event.replay_id > replay_id and channel in event.channels:
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    async def wait(self, generation: int, timeout_s: float) -> None:
        """Wait until something is published after ``generation``, or ``timeout_s`` passes."""
        if generation != self.generation or timeout_s <= 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            return
        finally:
            self._waiters.discard(waiter)
