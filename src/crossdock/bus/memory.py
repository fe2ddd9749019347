"""`InMemoryBus`: the `EventBus` port inside one process (tests, the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Final

from crossdock.bus.port import (
    DEFAULT_PREFIX,
    BusMessage,
    PublishAck,
    subject_for,
    subject_matches,
)
from crossdock.canonical.envelope import Event
from crossdock.runtime.clock import Clock, SystemClock

__all__ = ["InMemoryBus"]

_NOTHING: Final = -1.0


@dataclass(slots=True)
class _Stored:
    sequence: int
    subject: str
    event: Event


@dataclass(slots=True)
class _Consumer:
    filter_subject: str | None
    next_index: int = 0
    # sequence -> (deliveries, redeliver at (monotonic), or _NOTHING once acked)
    pending: dict[int, tuple[int, float]] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)


class InMemoryBus:
    """An event bus held in memory, with JetStream's semantics where the port names them.

    Args:
        prefix: The subject prefix.
        duplicate_window: Seconds during which a republished event id is dropped.
        ack_wait: Seconds after which an unacked message is delivered again.
        clock: Gives time (a `ManualClock` in tests).
    """

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        duplicate_window: float = 120.0,
        ack_wait: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.prefix = prefix
        self.duplicate_window = duplicate_window
        self.ack_wait = ack_wait
        self._clock = clock or SystemClock()
        self._messages: list[_Stored] = []
        self._seen: dict[str, tuple[int, float]] = {}  # event id -> (sequence, published at)
        self._consumers: dict[str, _Consumer] = {}
        self._arrived = asyncio.Condition()

    async def publish(self, event: Event) -> PublishAck:
        """Publish `event`, dropping an id seen inside the duplicate window."""
        now = self._clock.monotonic()
        seen = self._seen.get(event.id)
        if seen is not None and now - seen[1] < self.duplicate_window:
            return PublishAck(seen[0], duplicate=True)
        sequence = len(self._messages) + 1
        self._messages.append(_Stored(sequence, subject_for(event, self.prefix), event))
        self._seen[event.id] = (sequence, now)
        async with self._arrived:
            self._arrived.notify_all()
        return PublishAck(sequence, duplicate=False)

    async def pull(
        self,
        consumer: str,
        *,
        filter_subject: str | None = None,
        batch: int = 100,
        wait_seconds: float = 1.0,
    ) -> list[BusMessage]:
        """Return up to `batch` messages due for `consumer` (waiting up to `wait_seconds`)."""
        state = self._consumers.setdefault(consumer, _Consumer(filter_subject))
        found = self._due(consumer, state, batch)
        if found or wait_seconds <= 0:
            return found
        async with self._arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait_seconds)
        return self._due(consumer, state, batch)

    def _due(self, name: str, state: _Consumer, batch: int) -> list[BusMessage]:
        now = self._clock.monotonic()
        out: list[BusMessage] = []
        for sequence in sorted(state.pending):
            deliveries, due = state.pending[sequence]
            if len(out) < batch and due <= now:
                out.append(self._deliver(name, state, self._messages[sequence - 1], deliveries + 1))
        while len(out) < batch and state.next_index < len(self._messages):
            stored = self._messages[state.next_index]
            state.next_index += 1
            if state.filter_subject is None or subject_matches(
                state.filter_subject, stored.subject
            ):
                out.append(self._deliver(name, state, stored, 1))
        return out

    def _deliver(self, name: str, state: _Consumer, stored: _Stored, n: int) -> BusMessage:
        sequence = stored.sequence
        state.pending[sequence] = (n, self._clock.monotonic() + self.ack_wait)

        async def ack() -> None:
            state.pending.pop(sequence, None)
            state.acked.add(sequence)

        async def nak(delay: float) -> None:
            if sequence in state.pending:
                state.pending[sequence] = (n, self._clock.monotonic() + delay)

        return BusMessage(stored.event, stored.subject, sequence, n, ack, nak)

    async def close(self) -> None:
        """Nothing to release."""
