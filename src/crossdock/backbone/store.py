"""The store port: the durable backbone every flow rides on.

One protocol, `Store`, with two implementations that pass one contract suite: SQLite in WAL
mode (`crossdock.backbone.sqlite.SQLiteStore`, the embedded default) and PostgreSQL
(`crossdock.backbone.postgres.PostgresStore`). It holds:

- the **inbox** (raw deliveries, deduplicated by source and dedupe key, durable before the
  call returns);
- the **event log** (canonical events with a monotonically increasing position);
- the **outbox / work queue** (commands claimed under leases with a fencing token);
- **dead letters** with every attempt's error, replay and an audit trail;
- **links** between canonical ids and each system's ids;
- **flow state** with optimistic concurrency, written together with commands and events through
  one `Transaction`.

All times are timezone-aware UTC `datetime`s taken from the store's `Clock`. JSON payloads
are dictionaries of JSON values; a `Decimal` is stored as its string form and numbers are read
back with ``parse_float=Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from crossdock.canonical.envelope import Event

JSONObject = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class StoreUnavailable(StoreError):  # noqa: N818 - the name says what the caller must know
    """The database cannot be used right now (locked, unreachable, disk full).

    Retryable: nothing was acknowledged or changed. Try again later.
    """


class StoreLocked(StoreError):  # noqa: N818
    """Another process already holds this SQLite file as a hub store.

    Several processes sharing one SQLite file are unsafe for the lease logic; run one hub
    process per SQLite file, or use PostgreSQL for several worker processes.
    """


class LeaseLost(StoreError):  # noqa: N818
    """A claim's fencing token is stale or its lease expired; nothing was changed."""


class StaleFlowState(StoreError):  # noqa: N818
    """A flow state's version moved since it was read; the whole transaction is rolled back."""


class LinkConflict(StoreError):  # noqa: N818
    """A link would map one canonical id or one external id to two different partners."""


class NotFound(StoreError):  # noqa: N818
    """The row asked for does not exist (or is not in the state the operation needs)."""


class MigrationError(StoreError):
    """The schema cannot be brought to the version this code expects."""


# --------------------------------------------------------------------------------------------
# Inbox
# --------------------------------------------------------------------------------------------


class InboxStatus(StrEnum):
    """Where an inbox row stands."""

    RECEIVED = "received"
    DECODED = "decoded"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One raw delivery as it arrived (webhook, poll result, EDI file).

    Attributes:
        source: Who sent it, e.g. ``shopify:acme``.
        dedupe_key: The sender's delivery id; a redelivery carries the same key.
        body: The raw bytes, exactly as received (signatures are checked on them).
        headers: The transport headers worth keeping.
        correlation_id: The correlation id every later event of this delivery carries.
    """

    source: str
    dedupe_key: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """The answer of `Store.record_delivery`.

    Attributes:
        inbox_id: The inbox row of this delivery (the existing one for a duplicate).
        new: True when this call stored it, False for a duplicate.
    """

    inbox_id: int
    new: bool


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One inbox row, as the decoder and the operator see it.

    `token` is the fencing token of the decoder's claim (0 when unclaimed); `mark_inbox`
    refuses a stale token with `LeaseLost`.
    """

    inbox_id: int
    source: str
    dedupe_key: str
    headers: Mapping[str, str]
    body: bytes
    correlation_id: str
    status: InboxStatus
    received_at: datetime
    token: int = 0
    reason: str | None = None


# --------------------------------------------------------------------------------------------
# Event log
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A canonical event with its position in the log (strictly increasing, starting at 1)."""

    position: int
    event: Event
    recorded_at: datetime


# --------------------------------------------------------------------------------------------
# Outbox / work queue
# --------------------------------------------------------------------------------------------


class CommandStatus(StrEnum):
    """Where a command stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Command:
    """A command a flow wants performed against one destination system.

    Attributes:
        idempotency_key: Unique; derived from flow instance and step, never random.
            Enqueueing the same key twice is a no-op that returns the existing command.
        destination: The system that performs it, e.g. ``netsuite``.
        kind: What to do, e.g. ``sales_order.create``.
        payload: The command's JSON arguments.
        partition_key: Commands sharing it run one at a time, in enqueue order.
        not_before: Not claimable before this time (None: now).
        priority: Higher runs first among claimable commands.
        max_attempts: After this many attempts a retryable failure dead-letters.
        correlation_id: Carried from the event that caused it.
    """

    idempotency_key: str
    destination: str
    kind: str
    payload: JSONObject = field(default_factory=dict)
    partition_key: str | None = None
    not_before: datetime | None = None
    priority: int = 0
    max_attempts: int = 10
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The answer of an enqueue: the command's id, and whether this call created it."""

    command_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class ClaimedCommand:
    """A command under a lease.

    Attributes:
        command_id: The command's id.
        token: The fencing token of this claim; every claim increments it. Complete, fail,
            extend and release with a stale token raise `LeaseLost` and change nothing.
        command: The command itself.
        attempt: The number of this attempt (1 for the first).
        worker: Who holds the lease.
        lease_expires_at: When another worker may take it over.
        replay_of: The original command's id when this command is a dead-letter replay.
        enqueued_at: When the command was enqueued (None only where a claim is built by hand);
            the worker pool measures enqueue-to-completion latency from it.
    """

    command_id: int
    token: int
    command: Command
    attempt: int
    worker: str
    lease_expires_at: datetime
    replay_of: int | None = None
    enqueued_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One command row as an operator sees it."""

    command_id: int
    command: Command
    status: CommandStatus
    attempts: int
    token: int
    enqueued_at: datetime
    not_before: datetime
    finished_at: datetime | None = None
    result: JSONObject | None = None
    dead_reason: str | None = None
    replay_of: int | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """The answer of `Store.fail_retryable`.

    Attributes:
        dead: True when the command ran out of attempts and became a dead letter.
        next_attempt_at: When it becomes claimable again (None when dead).
    """

    dead: bool
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter for retryable failures.

    The delay before attempt n+1 is uniform in [0, min(cap, base * 2**(n-1))], at least
    `minimum` (computed by `crossdock.runtime.retry.backoff_delay`). A Retry-After reported by
    the connector replaces it.
    """

    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    minimum_seconds: float = 0.05


@dataclass(frozen=True, slots=True)
class Attempt:
    """One finished attempt of a command (kept for every failure and lost lease).

    `outcome` is ``retryable``, ``permanent``, ``lease_expired`` or ``released``.
    """

    attempt: int
    token: int
    worker: str
    outcome: str
    error: str | None
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A command that will not run again by itself, with everything needed to judge it."""

    command_id: int
    command: Command
    reason: str
    dead_at: datetime
    attempts: Sequence[Attempt]
    replays: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator action on the queue (who, when, what, what changed)."""

    audit_id: int
    at: datetime
    actor: str
    action: str
    command_id: int
    new_command_id: int | None
    detail: JSONObject


# --------------------------------------------------------------------------------------------
# Links and flow state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A canonical id's identity in one external system."""

    canonical_id: str
    system: str
    external_id: str


@dataclass(frozen=True, slots=True)
class FlowState:
    """A flow instance's state and its version (1 after the first save)."""

    flow: str
    key: str
    state: JSONObject
    version: int


# --------------------------------------------------------------------------------------------
# Circuit breakers and inbox backlog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """The shared state of one destination's circuit breaker, as the store keeps it.

    Every worker of every process reads and writes it through compare-and-set on `version`
    (see `Store.save_breaker`), and the console lists it with `Store.list_breakers`.

    Attributes:
        destination: The breaker's name (usually the destination, e.g. ``netsuite:1234567``).
        state: ``closed``, ``open`` or ``half_open``.
        consecutive_failures: Failures since the last success.
        window_start: Start of the current failure-rate window.
        window_calls: Calls finished in that window.
        window_failures: Failures in that window.
        opened_at: When the breaker last opened.
        probe_id: The ticket of the half-open probe in flight (its holder), if any.
        probe_until: When that probe's lease ends (another caller may probe after it).
        version: Bumped by every write; 0 means never stored.
        updated_at: When the row was last written (set by the store; None before).
    """

    destination: str
    state: str = "closed"
    consecutive_failures: int = 0
    window_start: datetime | None = None
    window_calls: int = 0
    window_failures: int = 0
    opened_at: datetime | None = None
    probe_id: str | None = None
    probe_until: datetime | None = None
    version: int = 0
    updated_at: datetime | None = None


INBOX_COUNT_STATES = ("received", "claimed", "decoded", "dead")
"""The keys of every per-source mapping `Store.inbox_counts` returns."""


# --------------------------------------------------------------------------------------------
# The protocols
# --------------------------------------------------------------------------------------------


class Transaction(Protocol):
    """Writes that commit together or not at all (``async with store.transaction() as tx``).

    Any error raised inside the block, `StaleFlowState` included, rolls everything back.
    """

    async def get_flow_state(self, flow: str, key: str) -> FlowState | None:
        """Read a flow state inside the transaction."""
        ...

    async def save_flow_state(
        self, flow: str, key: str, state: JSONObject, expected_version: int
    ) -> FlowState:
        """Save a flow state if its version is still `expected_version` (0: must not exist).

        Raises:
            StaleFlowState: The version moved; the transaction will roll back.
        """
        ...

    async def enqueue(self, *commands: Command) -> list[Enqueued]:
        """Put commands in the outbox (an existing idempotency key is a no-op)."""
        ...

    async def append_events(self, *events: Event) -> list[StoredEvent]:
        """Append events to the log (an event id already stored is not stored twice)."""
        ...

    async def link(self, canonical_id: str, system: str, external_id: str) -> Link:
        """Record a link (idempotent when identical; `LinkConflict` otherwise)."""
        ...

    async def mark_inbox(
        self, item: InboxItem, status: InboxStatus, reason: str | None = None
    ) -> None:
        """Settle a claimed inbox row as decoded or dead (`LeaseLost` on a stale token)."""
        ...

    async def complete(
        self,
        claim: ClaimedCommand,
        result: JSONObject | None = None,
        *,
        result_events: Sequence[Event] = (),
    ) -> list[StoredEvent]:
        """Mark a claimed command done with the rest of the transaction (`LeaseLost` if stale)."""
        ...

    async def fail_retryable(
        self, claim: ClaimedCommand, error: str, *, retry_after: float | None = None
    ) -> Retry:
        """Reschedule or dead-letter a claimed command with the rest of the transaction."""
        ...

    async def fail_permanent(self, claim: ClaimedCommand, error: str, reason: str) -> None:
        """Dead-letter a claimed command with the rest of the transaction."""
        ...


@runtime_checkable
class Store(Protocol):
    """The durable backbone. Open with `start()` (applies migrations), end with `close()`."""

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open connections and bring the schema to the latest version."""
        ...

    async def close(self) -> None:
        """Flush pending work and close every connection."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Return a context manager whose writes commit together or not at all."""
        ...

    # inbox ----------------------------------------------------------------------------------
    async def record_delivery(self, delivery: Delivery) -> InboxRecord:
        """Store a delivery durably before returning; a redelivery is reported as such.

        Raises:
            StoreUnavailable: Nothing was stored (locked, unreachable, disk full); do not
                acknowledge the delivery.
        """
        ...

    async def claim_inbox(
        self, worker: str, *, limit: int = 10, lease_seconds: float = 30.0
    ) -> list[InboxItem]:
        """Claim received inbox rows for decoding, oldest first."""
        ...

    async def mark_inbox(
        self, item: InboxItem, status: InboxStatus, reason: str | None = None
    ) -> None:
        """Settle a claimed inbox row as decoded or dead (malformed rows are kept, not dropped)."""
        ...

    async def get_inbox(self, inbox_id: int) -> InboxItem | None:
        """Return one inbox row."""
        ...

    async def list_inbox(self, status: InboxStatus, *, limit: int = 100) -> list[InboxItem]:
        """Return inbox rows in one status, oldest first."""
        ...

    async def inbox_counts(self) -> dict[str, dict[str, int]]:
        """Return the number of inbox rows per source and state (for a backlog gauge).

        The states are those of `INBOX_COUNT_STATES`: ``received`` (waiting for a decoder, an
        expired claim included), ``claimed`` (under a live decoder lease), ``decoded`` (kept
        until `purge_decoded_inbox`) and ``dead``. Every source with a row gets all four keys.
        """
        ...

    # event log ------------------------------------------------------------------------------
    async def append_events(self, *events: Event) -> list[StoredEvent]:
        """Append events to the log in one transaction."""
        ...

    async def read_events(self, after: int = 0, *, limit: int = 100) -> list[StoredEvent]:
        """Return events with a position greater than `after`, in order."""
        ...

    async def events_by_subject(self, subject: str, *, limit: int = 1000) -> list[StoredEvent]:
        """Return the events about one subject, in order."""
        ...

    async def events_by_correlation(
        self, correlation_id: str, *, limit: int = 1000
    ) -> list[StoredEvent]:
        """Return the events of one correlation id, in order."""
        ...

    # outbox / work queue --------------------------------------------------------------------
    async def enqueue(self, *commands: Command) -> list[Enqueued]:
        """Put commands in the outbox in one transaction."""
        ...

    async def claim(
        self,
        worker: str,
        *,
        destinations: Sequence[str] | None = None,
        limit: int = 1,
        lease_seconds: float = 30.0,
    ) -> list[ClaimedCommand]:
        """Lease up to `limit` claimable commands (taking over expired leases)."""
        ...

    async def extend(self, claim: ClaimedCommand, lease_seconds: float = 30.0) -> ClaimedCommand:
        """Extend a lease (`LeaseLost` when stale)."""
        ...

    async def complete(
        self,
        claim: ClaimedCommand,
        result: JSONObject | None = None,
        *,
        result_events: Sequence[Event] = (),
    ) -> list[StoredEvent]:
        """Mark a command done and append its result events atomically (`LeaseLost` when stale)."""
        ...

    async def fail_retryable(
        self, claim: ClaimedCommand, error: str, *, retry_after: float | None = None
    ) -> Retry:
        """Reschedule with backoff and jitter (or `retry_after` seconds), or dead-letter."""
        ...

    async def fail_permanent(self, claim: ClaimedCommand, error: str, reason: str) -> None:
        """Dead-letter a command now with its reason."""
        ...

    async def release(self, claim: ClaimedCommand) -> None:
        """Give a claim back unfinished (graceful shutdown); the attempt is not counted."""
        ...

    async def get_command(self, command_id: int) -> CommandRecord | None:
        """Return one command."""
        ...

    async def find_command(self, idempotency_key: str) -> CommandRecord | None:
        """Return the command with this idempotency key."""
        ...

    async def attempts(self, command_id: int) -> list[Attempt]:
        """Return a command's finished attempts, oldest first."""
        ...

    async def queue_depth(self) -> dict[str, int]:
        """Return the number of unfinished (pending or running) commands per destination."""
        ...

    async def dead_letter_counts(self) -> dict[str, int]:
        """Return the number of dead letters not yet replayed, per destination (for metrics)."""
        ...

    async def purge_completed(self, older_than: timedelta) -> int:
        """Delete done commands finished more than `older_than` ago; return how many."""
        ...

    async def purge_decoded_inbox(self, older_than: timedelta) -> int:
        """Delete inbox rows decoded more than `older_than` ago (dead ones are kept)."""
        ...

    async def wait_for_work(self, seconds: float) -> None:
        """Wait until this process makes a command claimable, or `seconds` pass."""
        ...

    # dead letters ---------------------------------------------------------------------------
    async def list_dead_letters(
        self, *, destination: str | None = None, include_replayed: bool = False, limit: int = 100
    ) -> list[DeadLetter]:
        """Return dead letters, oldest first."""
        ...

    async def get_dead_letter(self, command_id: int) -> DeadLetter | None:
        """Return one dead letter."""
        ...

    async def replay(
        self, command_id: int, *, actor: str, payload: JSONObject | None = None
    ) -> Enqueued:
        """Enqueue a dead letter again (optionally with an edited payload), audited."""
        ...

    async def replay_many(self, command_ids: Sequence[int], *, actor: str) -> list[Enqueued]:
        """Replay several dead letters in one transaction."""
        ...

    async def audit_trail(self, command_id: int) -> list[AuditEntry]:
        """Return the audit entries about one command (as original or as replay)."""
        ...

    # links ----------------------------------------------------------------------------------
    async def link(self, canonical_id: str, system: str, external_id: str) -> Link:
        """Record a link (idempotent when identical; `LinkConflict` otherwise)."""
        ...

    async def external_id(self, canonical_id: str, system: str) -> str | None:
        """Return a canonical id's id in one system."""
        ...

    async def canonical_id(self, system: str, external_id: str) -> str | None:
        """Return the canonical id of one system's id."""
        ...

    async def links_of(self, canonical_id: str) -> list[Link]:
        """Return every link of a canonical id."""
        ...

    # flow state -----------------------------------------------------------------------------
    async def get_flow_state(self, flow: str, key: str) -> FlowState | None:
        """Return a flow instance's state and version, or None."""
        ...

    # circuit breakers -----------------------------------------------------------------------
    async def get_breaker(self, destination: str) -> BreakerStatus | None:
        """Return the stored state of one breaker, or None when it was never stored."""
        ...

    async def save_breaker(self, status: BreakerStatus, *, expected_version: int) -> bool:
        """Store `status` (its version already bumped) if the stored version is still
        `expected_version` (0: no row yet); return whether it was stored (compare-and-set)."""
        ...

    async def list_breakers(self) -> list[BreakerStatus]:
        """Return every stored breaker, by destination (for the console and metrics)."""
        ...
