"""One write transaction of the SQL stores: the statements of every store write, in one place.

`SqlTransaction` runs named queries through a `Session` (one connection inside one
transaction, or in autocommit for single statements). `SqlStore` opens sessions and hands
them to it; `Store.transaction()` yields one to flows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from crossdock.backbone import _codec as codec
from crossdock.backbone.store import (
    ClaimedCommand,
    Command,
    Enqueued,
    FlowState,
    InboxItem,
    InboxStatus,
    JSONObject,
    LeaseLost,
    Link,
    LinkConflict,
    NotFound,
    Retry,
    StaleFlowState,
    StoredEvent,
)
from crossdock.canonical.commands import failure_event
from crossdock.canonical.envelope import Event

if TYPE_CHECKING:
    from crossdock.backbone._core import SqlStore

Row = dict[str, Any]


class Session(Protocol):
    """One connection inside one transaction (or one read), running named queries."""

    async def fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        """Run a named query and return its rows."""
        ...

    async def execute(self, name: str, params: Mapping[str, Any]) -> int:
        """Run a named statement and return the number of rows it changed."""
        ...


async def fetch_one(session: Session, name: str, params: Mapping[str, Any]) -> Row | None:
    """Run a named query and return its first row, or None."""
    rows = await session.fetch(name, params)
    return rows[0] if rows else None


class SqlTransaction:
    """The writes of the store over one session; also what `Store.transaction()` yields."""

    def __init__(self, store: SqlStore, session: Session) -> None:
        self._store = store
        self._session = session
        self.new_work = 0  # commands made claimable, to wake idle workers after the commit

    def _now(self) -> float:
        return self._store.clock.now().timestamp()

    # flow state -----------------------------------------------------------------------------
    async def get_flow_state(self, flow: str, key: str) -> FlowState | None:
        """Read a flow state inside the transaction."""
        row = await fetch_one(self._session, "get_flow_state", {"flow": flow, "key": key})
        return None if row is None else codec.flow_state_from_row(row)

    async def save_flow_state(
        self, flow: str, key: str, state: JSONObject, expected_version: int
    ) -> FlowState:
        """Save a flow state if its version is still `expected_version` (0: must not exist)."""
        params = {
            "flow": flow,
            "key": key,
            "state": codec.dump_json(state),
            "expected_version": expected_version,
            "now": self._now(),
        }
        name = "insert_flow_state" if expected_version == 0 else "update_flow_state"
        row = await fetch_one(self._session, name, params)
        if row is None:
            raise StaleFlowState(
                f"flow state {flow}/{key} is no longer at version {expected_version}"
            )
        return FlowState(flow, key, state, row["version"])

    # outbox ---------------------------------------------------------------------------------
    async def enqueue(self, *commands: Command) -> list[Enqueued]:
        """Put commands in the outbox (an existing idempotency key is a no-op)."""
        now = self._now()
        return [await self._enqueue_one(command, now) for command in commands]

    async def _enqueue_one(
        self, command: Command, now: float, replay_of: int | None = None
    ) -> Enqueued:
        row = await fetch_one(
            self._session, "insert_command", codec.command_params(command, now, replay_of)
        )
        if row is not None:
            self.new_work += 1
            return Enqueued(row["id"], created=True)
        existing = await fetch_one(
            self._session, "command_id_by_key", {"idempotency_key": command.idempotency_key}
        )
        if existing is None:  # deleted by retention between the two statements
            raise NotFound(f"command {command.idempotency_key!r} vanished while enqueueing")
        return Enqueued(existing["id"], created=False)

    async def claim(
        self, worker: str, destinations: Sequence[str] | None, limit: int, lease_seconds: float
    ) -> list[ClaimedCommand]:
        """Lease claimable commands; record lost leases; dead-letter commands out of attempts."""
        rows = await self.claim_rows(worker, destinations, limit, lease_seconds)
        return await self.settle_claimed(rows)

    async def claim_rows(
        self, worker: str, destinations: Sequence[str] | None, limit: int, lease_seconds: float
    ) -> list[Row]:
        """Run the claim statement alone and return its rows in claim order."""
        now = self._now()
        rows = await self._session.fetch(
            "claim_commands",
            {
                "worker": worker,
                "now": now,
                "lease_expires_at": now + lease_seconds,
                "destinations": self._store.list_param(destinations),
                "limit": limit,
            },
        )
        rows.sort(key=lambda r: (-r["priority"], r["id"]))
        return rows

    async def settle_claimed(self, rows: list[Row]) -> list[ClaimedCommand]:
        """Record the attempts that lost their lease; dead-letter commands out of attempts."""
        now = self._now()
        claims: list[ClaimedCommand] = []
        for row in rows:
            if row["taken_over_from"] is not None:
                await self._attempt(
                    row["id"],
                    row["attempts"] - 1,
                    row["token"] - 1,
                    row["taken_over_from"],
                    "lease_expired",
                    "the lease expired before the worker settled the command",
                    now,
                )
            if row["attempts"] > row["max_attempts"]:
                reason = f"out of attempts ({row['max_attempts']}); the last lease expired"
                changed = await self._session.execute(
                    "dead_command_unleased",
                    {"id": row["id"], "token": row["token"], "reason": reason, "now": now},
                )
                if changed:
                    # As for every other dead letter, the flow that asked hears of it in the
                    # same transaction (a worker that died holding the lease cannot tell it).
                    command = codec.claim_from_row(row).command
                    await self.append_events(
                        failure_event(
                            kind=command.kind,
                            destination=command.destination,
                            idempotency_key=command.idempotency_key,
                            payload=command.payload,
                            reason=reason,
                            correlation_id=command.correlation_id,
                        )
                    )
                continue
            claims.append(codec.claim_from_row(row))
        return claims

    async def _attempt(
        self,
        command_id: int,
        attempt: int,
        token: int,
        worker: str,
        outcome: str,
        error: str | None,
        now: float,
    ) -> None:
        await self._session.execute(
            "insert_attempt",
            {
                "command_id": command_id,
                "attempt": attempt,
                "token": token,
                "worker": worker,
                "outcome": outcome,
                "error": error,
                "now": now,
            },
        )

    async def _settle(self, claim: ClaimedCommand, name: str, params: Mapping[str, Any]) -> None:
        changed = await self._session.execute(
            name, {"id": claim.command_id, "token": claim.token, **params}
        )
        if changed != 1:
            raise LeaseLost(
                f"command {claim.command_id}: the lease of token {claim.token} was lost "
                "(expired or taken over); nothing was changed"
            )

    async def complete(
        self,
        claim: ClaimedCommand,
        result: JSONObject | None = None,
        *,
        result_events: Sequence[Event] = (),
    ) -> list[StoredEvent]:
        """Mark a command done and append its result events (`LeaseLost` when stale)."""
        now = self._now()
        encoded = None if result is None else codec.dump_json(result)
        await self._settle(claim, "complete_command", {"result": encoded, "now": now})
        return await self.append_events(*result_events) if result_events else []

    async def fail_retryable(
        self, claim: ClaimedCommand, error: str, *, retry_after: float | None = None
    ) -> Retry:
        """Reschedule with backoff, or dead-letter when out of attempts."""
        now = self._now()
        if claim.attempt >= claim.command.max_attempts:
            reason = f"out of attempts ({claim.command.max_attempts}): {error}"
            await self._settle(claim, "dead_command", {"reason": reason, "now": now})
            await self._attempt_of(claim, "retryable", error, now)
            return Retry(dead=True, next_attempt_at=None)
        delay = self._store.backoff(claim.attempt, retry_after)
        not_before = now + max(0.0, delay)
        await self._settle(claim, "retry_command", {"not_before": not_before, "now": now})
        await self._attempt_of(claim, "retryable", error, now)
        return Retry(dead=False, next_attempt_at=codec.to_dt(not_before))

    async def fail_permanent(self, claim: ClaimedCommand, error: str, reason: str) -> None:
        """Dead-letter now."""
        now = self._now()
        await self._settle(claim, "dead_command", {"reason": reason, "now": now})
        await self._attempt_of(claim, "permanent", error, now)

    async def _attempt_of(
        self, claim: ClaimedCommand, outcome: str, error: str | None, now: float
    ) -> None:
        await self._attempt(
            claim.command_id, claim.attempt, claim.token, claim.worker, outcome, error, now
        )

    async def extend(self, claim: ClaimedCommand, lease_seconds: float) -> ClaimedCommand:
        """Extend a lease."""
        now = self._now()
        expires = now + lease_seconds
        await self._settle(claim, "extend_command", {"lease_expires_at": expires, "now": now})
        return ClaimedCommand(
            command_id=claim.command_id,
            token=claim.token,
            command=claim.command,
            attempt=claim.attempt,
            worker=claim.worker,
            lease_expires_at=codec.to_dt(expires),
            replay_of=claim.replay_of,
            enqueued_at=claim.enqueued_at,
        )

    async def release(self, claim: ClaimedCommand) -> None:
        """Give a claim back without counting the attempt."""
        await self._settle(claim, "release_command", {"now": self._now()})
        self.new_work += 1

    async def replay(self, command_id: int, actor: str, payload: JSONObject | None) -> Enqueued:
        """Enqueue a dead letter again as a new command linked to it, audited."""
        row = await fetch_one(self._session, "get_dead", {"id": command_id})
        if row is None:
            raise NotFound(f"command {command_id} is not a dead letter")
        original = codec.command_from_row(row)
        earlier = await self._session.fetch("replays_of", {"id": command_id})
        now = self._now()
        replayed = Command(
            idempotency_key=f"{original.idempotency_key}~replay{len(earlier) + 1}",
            destination=original.destination,
            kind=original.kind,
            payload=original.payload if payload is None else payload,
            partition_key=original.partition_key,
            priority=original.priority,
            max_attempts=original.max_attempts,
            correlation_id=original.correlation_id,
        )
        enqueued = await self._enqueue_one(replayed, now, replay_of=command_id)
        detail: JSONObject = {"idempotency_key": replayed.idempotency_key}
        if payload is not None and payload != original.payload:
            detail["payload_before"] = original.payload
            detail["payload_after"] = payload
        await self._session.execute(
            "insert_audit",
            {
                "now": now,
                "actor": actor,
                "action": "replay_edited" if "payload_after" in detail else "replay",
                "command_id": command_id,
                "new_command_id": enqueued.command_id,
                "detail": codec.dump_json(detail),
            },
        )
        return enqueued

    # events ---------------------------------------------------------------------------------
    async def append_events(self, *events: Event) -> list[StoredEvent]:
        """Append events (an event id already stored is returned, not stored twice)."""
        if not events:
            return []
        await self._session.fetch("lock_events", {})
        now = self._now()
        stored: list[StoredEvent] = []
        for event in events:
            row = await fetch_one(self._session, "insert_event", codec.event_params(event, now))
            if row is None:
                row = await fetch_one(self._session, "event_by_id", {"event_id": event.id})
            if row is None:
                raise NotFound(f"event {event.id} vanished while appending")
            stored.append(codec.stored_event_from_row(row))
        return stored

    # links ----------------------------------------------------------------------------------
    async def link(self, canonical_id: str, system: str, external_id: str) -> Link:
        """Record a link; identical is a no-op, a different partner is a `LinkConflict`."""
        wanted = Link(canonical_id, system, external_id)
        params = {**_link_params(wanted), "now": self._now()}
        await self._session.execute("insert_link", params)
        by_canonical = await fetch_one(self._session, "link_by_canonical", params)
        by_external = await fetch_one(self._session, "link_by_external", params)
        for row in (by_canonical, by_external):
            if row is not None and codec.link_from_row(row) != wanted:
                found = codec.link_from_row(row)
                raise LinkConflict(
                    f"cannot link {canonical_id} to {system}:{external_id}: "
                    f"{found.canonical_id} is already linked to {found.system}:{found.external_id}"
                )
        return wanted

    # inbox ----------------------------------------------------------------------------------
    async def mark_inbox(
        self, item: InboxItem, status: InboxStatus, reason: str | None = None
    ) -> None:
        """Settle a claimed inbox row."""
        if status is InboxStatus.RECEIVED:
            raise ValueError("an inbox row is settled as decoded or dead, not received")
        changed = await self._session.execute(
            "mark_inbox",
            {
                "id": item.inbox_id,
                "token": item.token,
                "status": status.value,
                "reason": reason,
                "now": self._now(),
            },
        )
        if changed != 1:
            raise LeaseLost(f"inbox {item.inbox_id}: the claim of token {item.token} was lost")


def _link_params(link: Link) -> dict[str, Any]:
    return {
        "canonical_id": link.canonical_id,
        "system": link.system,
        "external_id": link.external_id,
    }
