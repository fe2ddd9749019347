"""The store logic both SQL backends share, written against a small `Session` seam.

A backend supplies sessions (a transaction for writes, a connection for reads, autocommit for
single statements) and the parameter form of a list, and may replace the group-commit flushes
with faster ones; the statements of each write live in `_transaction.SqlTransaction` and the
rest here, so the two backends differ only where their SQL or their driver does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from crossdock.backbone import _codec as codec
from crossdock.backbone._group_commit import GroupCommitter
from crossdock.backbone._transaction import Row, Session, SqlTransaction, fetch_one
from crossdock.backbone.store import (
    INBOX_COUNT_STATES,
    Attempt,
    AuditEntry,
    BreakerStatus,
    ClaimedCommand,
    Command,
    CommandRecord,
    CommandStatus,
    DeadLetter,
    Delivery,
    Enqueued,
    FlowState,
    InboxItem,
    InboxRecord,
    InboxStatus,
    JSONObject,
    LeaseLost,
    Link,
    NotFound,
    Retry,
    RetryPolicy,
    Store,
    StoredEvent,
    Transaction,
)
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.retry import DEFAULT_RETRY_AFTER_CAP_SECONDS, backoff_delay

_Completion = tuple[ClaimedCommand, JSONObject | None]


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One caller's claim, waiting to be batched with others."""

    worker: str
    destinations: tuple[str, ...] | None
    limit: int
    lease_seconds: float


class SqlStore(ABC):
    """The `Store` implementation shared by the SQLite and PostgreSQL backends."""

    dialect: ClassVar[str]

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        group_max_batch: int = 256,
        group_max_wait: float = 0.001,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.retry_policy = retry_policy or RetryPolicy()
        self._rng = random.Random()  # jitter; not a secret
        self._inbox_batcher: GroupCommitter[Delivery, InboxRecord] = GroupCommitter(
            self._record_batch, max_batch=group_max_batch, max_wait=group_max_wait
        )
        self._idle: deque[asyncio.Future[None]] = deque()
        # Queue writes batch only what piles up while a batch commits: no added wait.
        self._enqueue_batcher: GroupCommitter[Command, Enqueued] = GroupCommitter(
            self._enqueue_batch, max_batch=group_max_batch, max_wait=0
        )
        self._complete_batcher: GroupCommitter[_Completion, bool] = GroupCommitter(
            self._complete_batch, max_batch=group_max_batch, max_wait=0
        )
        self._claim_batcher: GroupCommitter[ClaimRequest, list[Row]] = GroupCommitter(
            self._claim_batch, max_batch=64, max_wait=0
        )

    async def drain_batches(self) -> None:
        """Wait until every group-committed write in flight has committed (used by close)."""
        batchers = (
            self._inbox_batcher,
            self._enqueue_batcher,
            self._complete_batcher,
            self._claim_batcher,
        )
        for batcher in batchers:
            await batcher.drain()

    async def _enqueue_batch(self, commands: Sequence[Command]) -> list[Enqueued]:
        """Enqueue single commands of several callers in one transaction."""
        seen: dict[str, int] = {}
        results: list[Enqueued] = []
        async with self._tx() as tx:
            for command in commands:
                if command.idempotency_key in seen:
                    results.append(Enqueued(seen[command.idempotency_key], created=False))
                    continue
                (enqueued,) = await tx.enqueue(command)
                seen[command.idempotency_key] = enqueued.command_id
                results.append(enqueued)
        return results

    async def _claim_batch(self, requests: Sequence[ClaimRequest]) -> list[list[Row]]:
        """Run the claims of several callers in one transaction, each with its own statement."""
        async with self.write_session() as session:
            tx = SqlTransaction(self, session)
            return [
                await tx.claim_rows(r.worker, r.destinations, r.limit, r.lease_seconds)
                for r in requests
            ]

    async def _complete_batch(self, completions: Sequence[_Completion]) -> list[bool]:
        """Complete the claims of several callers in one transaction; False: lease lost."""
        now = self.clock.now().timestamp()
        results: list[bool] = []
        async with self.write_session() as session:
            for claim, result in completions:
                encoded = None if result is None else codec.dump_json(result)
                params = {"id": claim.command_id, "token": claim.token, "result": encoded}
                changed = await session.execute("complete_command", {**params, "now": now})
                results.append(changed == 1)
        return results

    # backend seams --------------------------------------------------------------------------
    @abstractmethod
    def write_session(self) -> AbstractAsyncContextManager[Session]:
        """Return a session inside a write transaction (commit on success, else roll back)."""

    @abstractmethod
    def read_session(self) -> AbstractAsyncContextManager[Session]:
        """Return a session for reads."""

    @abstractmethod
    def autocommit_session(self) -> AbstractAsyncContextManager[Session]:
        """Return a session on the write path where each statement is its own transaction.

        Used where one statement does the whole job (a claim, a plain completion), to save the
        round trips of BEGIN and COMMIT.
        """

    @abstractmethod
    def list_param(self, values: Sequence[str] | None) -> Any:
        """Return a list of strings in the form this dialect's queries take."""

    @abstractmethod
    async def start(self) -> None:
        """Open connections and bring the schema to the latest version."""

    @abstractmethod
    async def close(self) -> None:
        """Flush pending work and close every connection."""

    @abstractmethod
    async def schema_version(self) -> int:
        """Return the schema version of the database."""

    async def __aenter__(self) -> SqlStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def guard_reentry(self) -> None:  # noqa: B027 - a hook that does nothing by default
        """Refuse a plain store write where it cannot work (a backend hook; no-op here)."""

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the delay after failed attempt `attempt`: exponential with full jitter.

        An explicit `retry_after` (what the connector was told to wait, or 0 for "now") replaces
        the backoff, capped at `DEFAULT_RETRY_AFTER_CAP_SECONDS`.
        """
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(0.0, retry_after), DEFAULT_RETRY_AFTER_CAP_SECONDS)
        return backoff_delay(self.retry_policy, attempt, self._rng)

    # transactions ---------------------------------------------------------------------------
    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[SqlTransaction]:
        async with self.write_session() as session:
            tx = SqlTransaction(self, session)
            yield tx
        self._wake(tx.new_work)

    @asynccontextmanager
    async def _single(self) -> AsyncIterator[SqlTransaction]:
        async with self.autocommit_session() as session:
            tx = SqlTransaction(self, session)
            yield tx
        self._wake(tx.new_work)

    # waking idle workers --------------------------------------------------------------------
    def _wake(self, count: int) -> None:
        while count > 0 and self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    async def wait_for_work(self, seconds: float) -> None:
        """Wait until this process makes a command claimable, or `seconds` pass.

        An idle worker calls it after an empty claim instead of polling blindly. Each new
        command wakes one waiter. Work enqueued by other processes (PostgreSQL) or made
        claimable by time (not-before, expired leases) is only seen after the timeout, so keep
        it short (a second or less).
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            pass
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self._idle.remove(waiter)

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Return a context manager whose writes commit together or not at all."""
        return self._tx()

    # inbox ----------------------------------------------------------------------------------
    async def record_delivery(self, delivery: Delivery) -> InboxRecord:
        """Store a delivery durably (group commit) and tell new from duplicate."""
        if not delivery.correlation_id:
            delivery = Delivery(
                delivery.source, delivery.dedupe_key, delivery.body, delivery.headers, new_id()
            )
        self.guard_reentry()
        return await self._inbox_batcher.submit(delivery)

    async def _record_batch(self, deliveries: Sequence[Delivery]) -> list[InboxRecord]:
        now = self.clock.now().timestamp()
        records: list[InboxRecord] = []
        async with self.write_session() as session:
            for delivery in deliveries:
                records.append(await self._record_one(session, delivery, now))
        return records

    @staticmethod
    async def _record_one(session: Session, delivery: Delivery, now: float) -> InboxRecord:
        params = {
            "source": delivery.source,
            "dedupe_key": delivery.dedupe_key,
            "headers": codec.dump_json(dict(delivery.headers)),
            "body": bytes(delivery.body),
            "correlation_id": delivery.correlation_id,
            "now": now,
        }
        row = await fetch_one(session, "insert_inbox", params)
        if row is not None:
            return InboxRecord(row["id"], new=True)
        existing = await fetch_one(session, "inbox_id_by_key", params)
        if existing is None:
            raise NotFound(f"inbox row {delivery.source}/{delivery.dedupe_key} vanished")
        return InboxRecord(existing["id"], new=False)

    async def claim_inbox(
        self, worker: str, *, limit: int = 10, lease_seconds: float = 30.0
    ) -> list[InboxItem]:
        """Claim received inbox rows for decoding, oldest first."""
        now = self.clock.now().timestamp()
        params = {
            "worker": worker,
            "now": now,
            "lease_expires_at": now + lease_seconds,
            "limit": limit,
        }
        async with self.write_session() as session:
            rows = await session.fetch("claim_inbox", params)
        return sorted((codec.inbox_from_row(r) for r in rows), key=lambda i: i.inbox_id)

    async def mark_inbox(
        self, item: InboxItem, status: InboxStatus, reason: str | None = None
    ) -> None:
        """Settle a claimed inbox row as decoded or dead."""
        async with self._tx() as tx:
            await tx.mark_inbox(item, status, reason)

    async def get_inbox(self, inbox_id: int) -> InboxItem | None:
        """Return one inbox row."""
        async with self.read_session() as session:
            row = await fetch_one(session, "get_inbox", {"id": inbox_id})
        return None if row is None else codec.inbox_from_row(row)

    async def list_inbox(self, status: InboxStatus, *, limit: int = 100) -> list[InboxItem]:
        """Return inbox rows in one status, oldest first."""
        async with self.read_session() as session:
            rows = await session.fetch("list_inbox", {"status": status.value, "limit": limit})
        return [codec.inbox_from_row(r) for r in rows]

    async def inbox_counts(self) -> dict[str, dict[str, int]]:
        """Return the number of inbox rows per source and state (received, claimed, decoded,
        dead), every source with all four keys; a gauge of the inbox backlog."""
        async with self.read_session() as session:
            rows = await session.fetch("inbox_counts", {"now": self.clock.now().timestamp()})
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            by_state = counts.setdefault(row["source"], dict.fromkeys(INBOX_COUNT_STATES, 0))
            by_state[row["state"]] = by_state.get(row["state"], 0) + int(row["n"])
        return counts

    # events ---------------------------------------------------------------------------------
    async def append_events(self, *events: Event) -> list[StoredEvent]:
        """Append events to the log in one transaction."""
        async with self._tx() as tx:
            return await tx.append_events(*events)

    async def _events(self, name: str, params: Mapping[str, Any]) -> list[StoredEvent]:
        async with self.read_session() as session:
            rows = await session.fetch(name, params)
        return [codec.stored_event_from_row(r) for r in rows]

    async def read_events(self, after: int = 0, *, limit: int = 100) -> list[StoredEvent]:
        """Return events with a position greater than `after`, in order."""
        return await self._events("read_events", {"after": after, "limit": limit})

    async def events_by_subject(self, subject: str, *, limit: int = 1000) -> list[StoredEvent]:
        """Return the events about one subject, in order."""
        return await self._events("events_by_subject", {"subject": subject, "limit": limit})

    async def events_by_correlation(
        self, correlation_id: str, *, limit: int = 1000
    ) -> list[StoredEvent]:
        """Return the events of one correlation id, in order."""
        params = {"correlation_id": correlation_id, "limit": limit}
        return await self._events("events_by_correlation", params)

    # queue ----------------------------------------------------------------------------------
    async def enqueue(self, *commands: Command) -> list[Enqueued]:
        """Put commands in the outbox in one transaction."""
        if len(commands) == 1:  # concurrent single enqueues share a transaction
            codec.command_params(commands[0], 0.0)  # refuse a bad command before batching it
            self.guard_reentry()
            enqueued = await self._enqueue_batcher.submit(commands[0])
            self._wake(1 if enqueued.created else 0)
            return [enqueued]
        async with self._tx() as tx:
            return await tx.enqueue(*commands)

    async def claim(
        self,
        worker: str,
        *,
        destinations: Sequence[str] | None = None,
        limit: int = 1,
        lease_seconds: float = 30.0,
    ) -> list[ClaimedCommand]:
        """Lease up to `limit` claimable commands (taking over expired leases).

        Concurrent claims share one transaction (group commit; on PostgreSQL one statement per
        destination filter). Lost leases and exhausted commands are settled in a second
        transaction (guarded by the new token), only when the claim met some.
        """
        if limit < 1:
            return []
        self.guard_reentry()
        chosen = None if destinations is None else tuple(destinations)
        rows = await self._claim_batcher.submit(ClaimRequest(worker, chosen, limit, lease_seconds))
        if not any(
            r["taken_over_from"] is not None or r["attempts"] > r["max_attempts"] for r in rows
        ):
            return [codec.claim_from_row(r) for r in rows]
        async with self._tx() as tx:
            return await tx.settle_claimed(rows)

    async def extend(self, claim: ClaimedCommand, lease_seconds: float = 30.0) -> ClaimedCommand:
        """Extend a lease (`LeaseLost` when stale)."""
        async with self._single() as tx:
            return await tx.extend(claim, lease_seconds)

    async def complete(
        self,
        claim: ClaimedCommand,
        result: JSONObject | None = None,
        *,
        result_events: Sequence[Event] = (),
    ) -> list[StoredEvent]:
        """Mark a command done and append its result events atomically.

        Without result events, concurrent completions share one transaction (group commit).
        """
        if not result_events:
            self.guard_reentry()
            if not await self._complete_batcher.submit((claim, result)):
                raise LeaseLost(
                    f"command {claim.command_id}: the lease of token {claim.token} was lost "
                    "(expired or taken over); nothing was changed"
                )
            return []
        async with self._tx() as tx:
            return await tx.complete(claim, result, result_events=result_events)

    async def fail_retryable(
        self, claim: ClaimedCommand, error: str, *, retry_after: float | None = None
    ) -> Retry:
        """Reschedule with backoff and jitter (or `retry_after` seconds), or dead-letter."""
        async with self._tx() as tx:
            return await tx.fail_retryable(claim, error, retry_after=retry_after)

    async def fail_permanent(self, claim: ClaimedCommand, error: str, reason: str) -> None:
        """Dead-letter a command now with its reason."""
        async with self._tx() as tx:
            await tx.fail_permanent(claim, error, reason)

    async def release(self, claim: ClaimedCommand) -> None:
        """Give a claim back unfinished; the attempt is not counted."""
        async with self._single() as tx:
            await tx.release(claim)

    async def get_command(self, command_id: int) -> CommandRecord | None:
        """Return one command."""
        async with self.read_session() as session:
            row = await fetch_one(session, "get_command", {"id": command_id})
        return None if row is None else codec.record_from_row(row)

    async def find_command(self, idempotency_key: str) -> CommandRecord | None:
        """Return the command with this idempotency key."""
        async with self.read_session() as session:
            row = await fetch_one(session, "command_by_key", {"idempotency_key": idempotency_key})
        return None if row is None else codec.record_from_row(row)

    async def attempts(self, command_id: int) -> list[Attempt]:
        """Return a command's finished attempts, oldest first."""
        async with self.read_session() as session:
            rows = await session.fetch("attempts_of", {"command_id": command_id})
        return [codec.attempt_from_row(r) for r in rows]

    async def queue_depth(self) -> dict[str, int]:
        """Return the number of unfinished commands per destination."""
        async with self.read_session() as session:
            rows = await session.fetch("queue_depth", {})
        return {r["destination"]: int(r["depth"]) for r in rows}

    async def dead_letter_counts(self) -> dict[str, int]:
        """Return the number of dead letters not yet replayed, per destination."""
        async with self.read_session() as session:
            rows = await session.fetch("dead_letter_counts", {})
        return {r["destination"]: int(r["dead"]) for r in rows}

    async def purge_completed(self, older_than: timedelta) -> int:
        """Delete done commands finished more than `older_than` ago; return how many."""
        before = (self.clock.now() - older_than).timestamp()
        async with self.write_session() as session:
            await session.execute("purge_completed_attempts", {"before": before})
            return await session.execute("purge_completed", {"before": before})

    async def purge_decoded_inbox(self, older_than: timedelta) -> int:
        """Delete inbox rows decoded more than `older_than` ago; return how many.

        Dead (malformed) rows are kept for an operator; a redelivery of a purged row would be
        taken as new, so keep decoded rows longer than any sender redelivers.
        """
        before = (self.clock.now() - older_than).timestamp()
        async with self.autocommit_session() as session:
            return await session.execute("purge_decoded_inbox", {"before": before})

    # dead letters ---------------------------------------------------------------------------
    async def _dead_letter(self, session: Session, row: Row) -> DeadLetter:
        attempts = await session.fetch("attempts_of", {"command_id": row["id"]})
        replays = await session.fetch("replays_of", {"id": row["id"]})
        return DeadLetter(
            command_id=row["id"],
            command=codec.command_from_row(row),
            reason=row["dead_reason"] or "",
            dead_at=codec.to_dt(row["finished_at"]),
            attempts=[codec.attempt_from_row(a) for a in attempts],
            replays=[r["id"] for r in replays],
        )

    async def list_dead_letters(
        self, *, destination: str | None = None, include_replayed: bool = False, limit: int = 100
    ) -> list[DeadLetter]:
        """Return dead letters, oldest first."""
        params = {"destination": destination, "include_replayed": include_replayed, "limit": limit}
        async with self.read_session() as session:
            rows = await session.fetch("list_dead", params)
            return [await self._dead_letter(session, row) for row in rows]

    async def get_dead_letter(self, command_id: int) -> DeadLetter | None:
        """Return one dead letter."""
        async with self.read_session() as session:
            row = await fetch_one(session, "get_dead", {"id": command_id})
            return None if row is None else await self._dead_letter(session, row)

    async def replay(
        self, command_id: int, *, actor: str, payload: JSONObject | None = None
    ) -> Enqueued:
        """Enqueue a dead letter again (optionally with an edited payload), audited."""
        async with self._tx() as tx:
            return await tx.replay(command_id, actor, payload)

    async def replay_many(self, command_ids: Sequence[int], *, actor: str) -> list[Enqueued]:
        """Replay several dead letters in one transaction."""
        async with self._tx() as tx:
            return [await tx.replay(command_id, actor, None) for command_id in command_ids]

    async def audit_trail(self, command_id: int) -> list[AuditEntry]:
        """Return the audit entries about one command (as original or as replay)."""
        async with self.read_session() as session:
            rows = await session.fetch("audit_of", {"command_id": command_id})
        return [codec.audit_from_row(r) for r in rows]

    # links ----------------------------------------------------------------------------------
    async def link(self, canonical_id: str, system: str, external_id: str) -> Link:
        """Record a link (idempotent when identical; `LinkConflict` otherwise)."""
        async with self._tx() as tx:
            return await tx.link(canonical_id, system, external_id)

    async def external_id(self, canonical_id: str, system: str) -> str | None:
        """Return a canonical id's id in one system."""
        params = {"canonical_id": canonical_id, "system": system}
        async with self.read_session() as session:
            row = await fetch_one(session, "link_by_canonical", params)
        return None if row is None else str(row["external_id"])

    async def canonical_id(self, system: str, external_id: str) -> str | None:
        """Return the canonical id of one system's id."""
        params = {"system": system, "external_id": external_id}
        async with self.read_session() as session:
            row = await fetch_one(session, "link_by_external", params)
        return None if row is None else str(row["canonical_id"])

    async def links_of(self, canonical_id: str) -> list[Link]:
        """Return every link of a canonical id."""
        async with self.read_session() as session:
            rows = await session.fetch("links_of", {"canonical_id": canonical_id})
        return [codec.link_from_row(r) for r in rows]

    # flow state -----------------------------------------------------------------------------
    async def get_flow_state(self, flow: str, key: str) -> FlowState | None:
        """Return a flow instance's state and version, or None."""
        async with self.read_session() as session:
            row = await fetch_one(session, "get_flow_state", {"flow": flow, "key": key})
        return None if row is None else codec.flow_state_from_row(row)

    # circuit breakers -----------------------------------------------------------------------
    async def get_breaker(self, destination: str) -> BreakerStatus | None:
        """Return the stored state of one breaker, or None when it was never stored."""
        async with self.read_session() as session:
            row = await fetch_one(session, "get_breaker", {"destination": destination})
        return None if row is None else codec.breaker_from_row(row)

    async def save_breaker(self, status: BreakerStatus, *, expected_version: int) -> bool:
        """Compare-and-set one breaker's state: store `status` (its version already bumped)
        only if the stored version is still `expected_version` (0: no row yet)."""
        if status.version <= expected_version:
            raise ValueError("a breaker write must bump the version past expected_version")
        params = codec.breaker_params(status, self.clock.now().timestamp(), expected_version)
        name = "insert_breaker" if expected_version == 0 else "update_breaker"
        async with self.autocommit_session() as session:
            return await session.execute(name, params) == 1

    async def list_breakers(self) -> list[BreakerStatus]:
        """Return every stored breaker, by destination (for the console and metrics)."""
        async with self.read_session() as session:
            rows = await session.fetch("list_breakers", {})
        return [codec.breaker_from_row(r) for r in rows]


__all__ = ["CommandStatus", "Session", "SqlStore", "SqlTransaction"]


def _conforms_to_the_port(store: SqlStore) -> Store:
    """Never called: mypy checks here that `SqlStore` implements the `Store` protocol."""
    return store
