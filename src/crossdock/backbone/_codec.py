"""Row <-> value conversions shared by both SQL stores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossdock.backbone.store import (
    Attempt,
    AuditEntry,
    BreakerStatus,
    ClaimedCommand,
    Command,
    CommandRecord,
    CommandStatus,
    FlowState,
    InboxItem,
    InboxStatus,
    JSONObject,
    Link,
    StoredEvent,
)
from crossdock.canonical.envelope import Event

Row = Mapping[str, Any]


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_json(value: object) -> str:
    """Encode JSON compactly; a Decimal becomes its string form (money stays exact)."""
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def load_json(text: str | None) -> Any:
    """Decode JSON with numbers that have a fraction as `Decimal`."""
    if text is None:
        return None
    return json.loads(text, parse_float=Decimal)


def to_ts(value: datetime) -> float:
    """Return seconds since the epoch of an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware")
    return value.timestamp()


def to_dt(value: float) -> datetime:
    """Return the UTC datetime of seconds since the epoch."""
    return datetime.fromtimestamp(value, UTC)


def opt_dt(value: float | None) -> datetime | None:
    """`to_dt`, passing None through."""
    return None if value is None else to_dt(value)


def command_params(command: Command, now: float, replay_of: int | None = None) -> dict[str, Any]:
    """Return the insert parameters of a command."""
    not_before = now if command.not_before is None else to_ts(command.not_before)
    if command.max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    return {
        "idempotency_key": command.idempotency_key,
        "destination": command.destination,
        "kind": command.kind,
        "payload": dump_json(command.payload),
        "partition_key": command.partition_key,
        "priority": command.priority,
        "max_attempts": command.max_attempts,
        "correlation_id": command.correlation_id,
        "now": now,
        "not_before": not_before,
        "replay_of": replay_of,
    }


def command_from_row(row: Row) -> Command:
    """Rebuild a `Command` from its row."""
    return Command(
        idempotency_key=row["idempotency_key"],
        destination=row["destination"],
        kind=row["kind"],
        payload=load_json(row["payload"]),
        partition_key=row["partition_key"],
        not_before=to_dt(row["not_before"]),
        priority=row["priority"],
        max_attempts=row["max_attempts"],
        correlation_id=row["correlation_id"],
    )


def record_from_row(row: Row) -> CommandRecord:
    """Rebuild a `CommandRecord` from its row."""
    result = load_json(row["result"])
    return CommandRecord(
        command_id=row["id"],
        command=command_from_row(row),
        status=CommandStatus(row["status"]),
        attempts=row["attempts"],
        token=row["token"],
        enqueued_at=to_dt(row["enqueued_at"]),
        not_before=to_dt(row["not_before"]),
        finished_at=opt_dt(row["finished_at"]),
        result=result,
        dead_reason=row["dead_reason"],
        replay_of=row["replay_of"],
    )


def claim_from_row(row: Row) -> ClaimedCommand:
    """Rebuild a `ClaimedCommand` from the row a claim returned."""
    return ClaimedCommand(
        command_id=row["id"],
        token=row["token"],
        command=command_from_row(row),
        attempt=row["attempts"],
        worker=row["worker"],
        lease_expires_at=to_dt(row["lease_expires_at"]),
        replay_of=row["replay_of"],
        enqueued_at=opt_dt(row.get("enqueued_at")),
    )


def attempt_from_row(row: Row) -> Attempt:
    """Rebuild an `Attempt` from its row."""
    return Attempt(
        attempt=row["attempt"],
        token=row["token"],
        worker=row["worker"],
        outcome=row["outcome"],
        error=row["error"],
        finished_at=to_dt(row["finished_at"]),
    )


def audit_from_row(row: Row) -> AuditEntry:
    """Rebuild an `AuditEntry` from its row."""
    return AuditEntry(
        audit_id=row["id"],
        at=to_dt(row["at"]),
        actor=row["actor"],
        action=row["action"],
        command_id=row["command_id"],
        new_command_id=row["new_command_id"],
        detail=load_json(row["detail"]),
    )


def inbox_from_row(row: Row) -> InboxItem:
    """Rebuild an `InboxItem` from its row."""
    return InboxItem(
        inbox_id=row["id"],
        source=row["source"],
        dedupe_key=row["dedupe_key"],
        headers=load_json(row["headers"]),
        body=bytes(row["body"]),
        correlation_id=row["correlation_id"],
        status=InboxStatus(row["status"]),
        received_at=to_dt(row["received_at"]),
        token=row["token"],
        reason=row["reason"],
    )


def event_params(event: Event, now: float) -> dict[str, Any]:
    """Return the insert parameters of an event."""
    return {
        "event_id": event.id,
        "type": event.type,
        "subject": event.subject,
        "correlation_id": event.correlationid,
        "body": event.model_dump_json(),
        "now": now,
    }


def stored_event_from_row(row: Row) -> StoredEvent:
    """Rebuild a `StoredEvent` from its row."""
    return StoredEvent(
        position=row["position"],
        event=Event.model_validate_json(row["body"]),
        recorded_at=to_dt(row["recorded_at"]),
    )


def link_from_row(row: Row) -> Link:
    """Rebuild a `Link` from its row."""
    return Link(row["canonical_id"], row["system"], row["external_id"])


def flow_state_from_row(row: Row) -> FlowState:
    """Rebuild a `FlowState` from its row."""
    state: JSONObject = load_json(row["state"])
    return FlowState(row["flow"], row["key"], state, row["version"])


def breaker_params(status: BreakerStatus, now: float, expected_version: int) -> dict[str, Any]:
    """Return the parameters of the breaker-state writes."""
    return {
        "destination": status.destination,
        "state": status.state,
        "consecutive_failures": status.consecutive_failures,
        "window_start": 0.0 if status.window_start is None else to_ts(status.window_start),
        "window_calls": status.window_calls,
        "window_failures": status.window_failures,
        "opened_at": None if status.opened_at is None else to_ts(status.opened_at),
        "probe_id": status.probe_id,
        "probe_until": None if status.probe_until is None else to_ts(status.probe_until),
        "version": status.version,
        "expected": expected_version,
        "now": now,
    }


def breaker_from_row(row: Row) -> BreakerStatus:
    """Rebuild a `BreakerStatus` from its row."""
    return BreakerStatus(
        destination=row["destination"],
        state=row["state"],
        consecutive_failures=int(row["consecutive_failures"]),
        window_start=to_dt(row["window_start"]),
        window_calls=int(row["window_calls"]),
        window_failures=int(row["window_failures"]),
        opened_at=opt_dt(row["opened_at"]),
        probe_id=row["probe_id"],
        probe_until=opt_dt(row["probe_until"]),
        version=int(row["version"]),
        updated_at=to_dt(row["updated_at"]),
    )
