"""The flow engine: canonical events in log order, pure decisions, one transaction per step.

A `FlowRunner` reads the event log from its checkpoint (kept in the store as the flow state of
``("flows.runner", <runner name>)``), routes each event to the flows that subscribe to its type,
and for each (flow, instance key):

1. loads the instance state and its version, and the flow's context (links, availability:
   every lookup a decision needs, done before the decision, never inside it);
2. calls the flow's pure ``decide(state, event, context) -> Decision``;
3. commits the new state (with the expected version), the commands (outbox), the emitted events,
   the links and the advanced checkpoint in **one** transaction.

A `StaleFlowState` (someone else moved a version) rolls everything back; the runner reloads and
tries again. An event is applied once per instance: the instance state records the position of
the last event it applied, and an event at or before it is skipped. Command idempotency keys and
emitted event ids are derived from (flow, instance key, step), so a replay writes nothing new.

A store failure, or a `RetryableError` from a port a flow reads through, is raised (``run``
logs it and tries again): the event is not skipped. An event a flow cannot take
(`FlowRejected`, or a bug in ``route``, ``context`` or ``decide``) is recorded as a
``flow.event_rejected`` event with its reason, and the runner moves on: one bad order never
stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from crossdock.backbone.store import (
    Command,
    FlowState,
    JSONObject,
    LinkConflict,
    StaleFlowState,
    Store,
    StoredEvent,
    StoreError,
    StoreUnavailable,
)
from crossdock.canonical.envelope import Event
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import RetryableError

__all__ = [
    "EVENT_REJECTED",
    "RUNNER_FLOW",
    "Decision",
    "Flow",
    "FlowCommand",
    "FlowEvent",
    "FlowRejected",
    "FlowRunner",
    "LinkRequest",
    "StepOutcome",
    "build_command",
    "build_event",
    "command_key",
    "emitted_event_id",
]

RUNNER_FLOW: Final = "flows.runner"
"""The flow name under which runner checkpoints are stored (key: the runner's name)."""

EVENT_REJECTED: Final = "flow.event_rejected"
"""The event recorded when a flow cannot take an event (data: flow, key, reason, event)."""

_NAMESPACE = uuid.UUID("0b9f2f4e-7c1d-5a8e-9d2b-6f3c1e0a4d55")
_MAX_REASON = 2000


# --------------------------------------------------------------------------------------------
# What a decision is made of
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowCommand:
    """A command a decision asks for; the runner turns it into an outbox `Command`.

    Attributes:
        step: Names this command within the instance (unique per instance); the idempotency
            key is ``<flow>:<key>:<step>``, so a replay of the decision enqueues nothing new.
        destination: The system that performs it (a governance system name).
        kind: The command kind (`crossdock.canonical.commands`).
        payload: The command's JSON arguments.
        priority: Higher runs first.
    """

    step: str
    destination: str
    kind: str
    payload: JSONObject
    priority: int = 0


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """An event a decision emits (an exception, a state change others want to hear of).

    Attributes:
        step: Names the event within the instance; its id is derived from flow, key and step.
        type: The event type, e.g. ``order.quarantined``.
        data: The event's data.
    """

    step: str
    type: str
    data: JSONObject


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A link a decision records: a canonical id's identity in one system."""

    canonical_id: str
    system: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What ``decide`` returns: the instance's next state and what to write with it."""

    state: JSONObject
    commands: tuple[FlowCommand, ...] = ()
    events: tuple[FlowEvent, ...] = ()
    links: tuple[LinkRequest, ...] = ()


class FlowRejected(Exception):  # noqa: N818 - a verdict, not an accident
    """Raised by a flow's `route`, `context` or `decide`: this event is not valid for the flow.

    The runner records a ``flow.event_rejected`` event with `reason` and goes on.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Flow(Protocol):
    """A business flow the runner drives.

    Attributes:
        name: The flow's name (the flow-state namespace, the idempotency key prefix).
        subscribes: The event types it takes.
    """

    name: str
    subscribes: frozenset[str]

    async def route(self, event: Event, store: Store) -> str | None:
        """Return the instance key the event belongs to (None: not for this flow).

        Raises:
            FlowRejected: The event should be this flow's but cannot be placed.
        """
        ...

    async def context(self, key: str, event: Event, state: JSONObject | None, store: Store) -> Any:
        """Gather what `decide` needs to know beyond state and event (reads only)."""
        ...

    def decide(self, state: JSONObject | None, event: Event, context: Any) -> Decision:
        """Pure: the next state, commands and events of one instance after one event.

        Raises:
            FlowRejected: The event is not valid for this instance.
        """
        ...


# --------------------------------------------------------------------------------------------
# Deterministic names
# --------------------------------------------------------------------------------------------


def command_key(flow: str, key: str, step: str) -> str:
    """The idempotency key of a flow command: ``<flow>:<key>:<step>``."""
    return f"{flow}:{key}:{step}"


def emitted_event_id(flow: str, key: str, step: str) -> str:
    """The id of an event a flow emits: a UUIDv5 of flow, key and step."""
    return str(uuid.uuid5(_NAMESPACE, f"{flow}|{key}|{step}"))


def build_command(flow: str, key: str, command: FlowCommand, cause: Event) -> Command:
    """Turn a decision's command into an outbox command (keys derived, never random)."""
    return Command(
        idempotency_key=command_key(flow, key, command.step),
        destination=command.destination,
        kind=command.kind,
        payload=command.payload,
        partition_key=f"{flow}:{key}:{command.destination}",
        priority=command.priority,
        correlation_id=cause.correlationid,
    )


def build_event(flow: str, key: str, emitted: FlowEvent, cause: Event) -> Event:
    """Turn a decision's event into a canonical event caused by `cause` (same time, ids derived)."""
    return Event(
        id=emitted_event_id(flow, key, emitted.step),
        source=f"crossdock:flow:{flow}",
        type=emitted.type,
        subject=key,
        time=cause.time,
        correlationid=cause.correlationid,
        causationid=cause.id,
        data=emitted.data,
    )


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What happened to one event in one flow (for callers, metrics and tests).

    ``outcome`` is ``applied``, ``skipped`` (already applied), ``rejected`` or ``ignored``;
    `commands` and `events` are what the step wrote (`created`: how many commands were new
    in the outbox, the others having an idempotency key it already held).
    """

    position: int
    flow: str
    key: str | None
    outcome: str
    reason: str | None = None
    commands: tuple[Command, ...] = ()
    events: tuple[Event, ...] = ()
    created: int = 0


@dataclass(slots=True)
class _Instance:
    """One instance within a commit: as loaded (its version is the expected one) and as decided."""

    loaded: FlowState | None
    state: JSONObject | None
    applied: int
    event_id: str | None = None
    dirty: bool = False


@dataclass(slots=True)
class _Plan:
    flow: Flow
    key: str | None
    decision: Decision | None = None
    rejection: str | None = None
    skip: bool = False
    commands: list[Command] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    created: int = 0


@dataclass(slots=True)
class _Checkpoint:
    position: int
    version: int


class FlowRunner:
    """Drives flows from the event log, in order, committing each step with its effects.

    Args:
        store: The durable store.
        flows: The flows to drive.
        name: The runner's name (its checkpoint key); runners with different names each
            see every event (their instance guards keep an event applied once).
        batch_size: Events read per store call.
        max_stale_retries: Reloads after `StaleFlowState` before giving up on a pass.
        events_per_commit: Most events decided and committed in one transaction (1: one
            transaction per event). A commit also ends after an event whose decision records
            links, so that later lookups see them.
    """

    def __init__(
        self,
        store: Store,
        flows: Sequence[Flow],
        *,
        name: str = "main",
        batch_size: int = 100,
        max_stale_retries: int = 20,
        events_per_commit: int = 1,
    ) -> None:
        names = [f.name for f in flows]
        if len(set(names)) != len(names):
            raise ValueError(f"flow names must be unique: {names}")
        self._store = store
        self._flows = list(flows)
        self.name = name
        self.batch_size = batch_size
        self.max_stale_retries = max_stale_retries
        if events_per_commit < 1:
            raise ValueError("events_per_commit must be at least 1")
        self.events_per_commit = events_per_commit
        self._log = get_logger("crossdock.flows.engine", runner=name)
        self._cached: _Checkpoint | None = None
        self.outcomes: list[StepOutcome] = []
        """Outcomes of the last `run_once` or `run_until_idle` call."""

    # checkpoint ----------------------------------------------------------------------------
    async def position(self) -> int:
        """Return the position of the last event this runner has finished with."""
        return (await self._checkpoint()).position

    async def _checkpoint(self) -> _Checkpoint:
        found = await self._store.get_flow_state(RUNNER_FLOW, self.name)
        if found is None:
            return _Checkpoint(0, 0)
        return _Checkpoint(int(found.state.get("position", 0)), found.version)

    async def _current(self) -> _Checkpoint:
        """The checkpoint as this runner last wrote or read it (reloaded after a conflict)."""
        if self._cached is None:
            self._cached = await self._checkpoint()
        return self._cached

    # loop ----------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Process the next batch of events; return how many events were read."""
        self.outcomes = []
        self._cached = checkpoint = await self._checkpoint()
        batch = await self._store.read_events(checkpoint.position, limit=self.batch_size)
        unsaved: int | None = None
        chunk: list[StoredEvent] = []
        for stored in batch:
            if not self._subscribed(stored):
                unsaved = stored.position
                continue
            chunk.append(stored)
            unsaved = None
            if len(chunk) >= self.events_per_commit:
                await self._process(chunk)
                chunk = []
        if chunk:
            await self._process(chunk)
        if unsaved is not None:
            await self._advance_only(unsaved)
        return len(batch)

    async def run_until_idle(self) -> int:
        """Process events until the log has none left; return how many were read."""
        total = 0
        outcomes: list[StepOutcome] = []
        while True:
            read = await self.run_once()
            outcomes.extend(self.outcomes)
            total += read
            if read == 0:
                self.outcomes = outcomes
                return total

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 0.2) -> None:
        """Process events until `stop` is set, waiting `idle_seconds` when the log is drained.

        A `StoreUnavailable`, a port's `RetryableError` or state that kept moving under
        contention is logged and retried after the idle wait; nothing is skipped.
        """
        while not stop.is_set():
            try:
                read = await self.run_once()
            except (StoreUnavailable, StaleFlowState, RetryableError) as exc:
                self._log.warning("flow step not committed; retrying", error=str(exc))
                read = 0
            if read == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)

    # a run of events, one transaction ------------------------------------------------------
    async def _process(self, chunk: Sequence[StoredEvent]) -> None:
        remaining = list(chunk)
        drop_links = False
        while remaining:
            for _ in range(self.max_stale_retries + 1):
                checkpoint = await self._current()
                todo = [e for e in remaining if e.position > checkpoint.position]
                if not todo:
                    return  # another runner of this name finished them
                instances: dict[tuple[str, str], _Instance] = {}
                steps: list[tuple[StoredEvent, list[_Plan]]] = []
                for stored in todo:
                    plans = [
                        await self._plan(flow, stored, drop_links, instances)
                        for flow in self._subscribed(stored)
                    ]
                    steps.append((stored, plans))
                    if any(p.decision is not None and p.decision.links for p in plans):
                        break  # links must be committed before later lookups
                try:
                    await self._commit(steps, instances, checkpoint, drop_links)
                except StaleFlowState:
                    self._log.info("stale flow state; reloading", position=todo[0].position)
                    self._cached = None
                    continue
                except LinkConflict as exc:
                    self._log.warning("link conflict; retrying without links", error=str(exc))
                    drop_links = True
                    continue
                last = steps[-1][0].position
                self._cached = _Checkpoint(last, checkpoint.version + 1)
                for stored, plans in steps:
                    self.outcomes.extend(_outcome(stored.position, plan) for plan in plans)
                remaining = [e for e in remaining if e.position > last]
                drop_links = False
                break
            else:
                raise StaleFlowState(
                    f"event {remaining[0].position}: flow state kept moving after "
                    f"{self.max_stale_retries} retries"
                )

    def _subscribed(self, stored: StoredEvent) -> list[Flow]:
        return [f for f in self._flows if stored.event.type in f.subscribes]

    async def _instance(
        self, flow: Flow, key: str, instances: dict[tuple[str, str], _Instance]
    ) -> _Instance:
        found = instances.get((flow.name, key))
        if found is None:
            loaded = await self._store.get_flow_state(flow.name, key)
            applied = 0 if loaded is None else _applied(loaded)
            found = instances[(flow.name, key)] = _Instance(loaded, _inner(loaded), applied)
        return found

    async def _plan(
        self,
        flow: Flow,
        stored: StoredEvent,
        drop_links: bool,
        instances: dict[tuple[str, str], _Instance],
    ) -> _Plan:
        event = stored.event
        try:
            key = await flow.route(event, self._store)
        except FlowRejected as exc:
            return self._rejected(_Plan(flow, None), stored, exc.reason)
        except (StoreError, RetryableError):
            raise  # the store or a port, not the event: retried, never rejected
        except Exception as exc:  # a bug in one flow's routing must not stop the runner
            return self._rejected(_Plan(flow, None), stored, f"routing failed: {_summary(exc)}")
        if key is None:
            return _Plan(flow, None, skip=True)
        plan = _Plan(flow, key)
        instance = await self._instance(flow, key, instances)
        if instance.applied >= stored.position:
            plan.skip = True
            return plan
        try:
            context = await flow.context(key, event, instance.state, self._store)
            plan.decision = flow.decide(instance.state, event, context)
        except FlowRejected as exc:
            return self._rejected(plan, stored, exc.reason)
        except (StoreError, RetryableError):
            raise  # a lookup failed for now: retried, never rejected
        except Exception as exc:  # a bug in one flow must not stop the runner
            summary = _summary(exc)
            self._log.error("decision failed", flow=flow.name, key=key, error=summary)
            return self._rejected(plan, stored, f"decision failed: {summary}")
        instance.state = plan.decision.state
        instance.applied = stored.position
        instance.event_id = event.id
        instance.dirty = True
        plan.commands = [build_command(flow.name, key, c, event) for c in plan.decision.commands]
        plan.events = [build_event(flow.name, key, e, event) for e in plan.decision.events]
        if drop_links and plan.decision.links:
            plan.events.append(
                build_event(
                    flow.name,
                    key,
                    FlowEvent(
                        f"link-conflict:{event.id}",
                        EVENT_REJECTED,
                        _rejection_data(flow.name, key, event, "link conflict; links not recorded"),
                    ),
                    event,
                )
            )
        return plan

    def _rejected(self, plan: _Plan, stored: StoredEvent, reason: str) -> _Plan:
        event = stored.event
        plan.rejection = reason[:_MAX_REASON]
        key = plan.key or "-"
        plan.events = [
            build_event(
                plan.flow.name,
                key,
                FlowEvent(
                    f"rejected:{event.id}",
                    EVENT_REJECTED,
                    _rejection_data(plan.flow.name, plan.key, event, plan.rejection),
                ),
                event,
            )
        ]
        self._log.warning(
            "event rejected", flow=plan.flow.name, key=plan.key, type=event.type, reason=reason
        )
        return plan

    async def _commit(
        self,
        steps: Sequence[tuple[StoredEvent, Sequence[_Plan]]],
        instances: Mapping[tuple[str, str], _Instance],
        checkpoint: _Checkpoint,
        drop_links: bool,
    ) -> None:
        plans = [plan for _, step_plans in steps for plan in step_plans]
        links = [] if drop_links else await self._new_links(plans)
        async with self._store.transaction() as tx:
            for (flow, key), instance in instances.items():
                if not instance.dirty:
                    continue
                state = {
                    "applied": {"position": instance.applied, "event_id": instance.event_id},
                    "state": instance.state,
                }
                version = instance.loaded.version if instance.loaded is not None else 0
                await tx.save_flow_state(flow, key, state, version)
            for plan in plans:
                if plan.skip:
                    continue
                if plan.commands:
                    enqueued = await tx.enqueue(*plan.commands)
                    plan.created = sum(1 for e in enqueued if e.created)
                if plan.events:
                    await tx.append_events(*plan.events)
            for link in links:
                await tx.link(link.canonical_id, link.system, link.external_id)
            await tx.save_flow_state(
                RUNNER_FLOW, self.name, {"position": steps[-1][0].position}, checkpoint.version
            )

    async def _new_links(self, plans: Sequence[_Plan]) -> list[LinkRequest]:
        wanted: list[LinkRequest] = []
        for plan in plans:
            if plan.decision is None or plan.skip:
                continue
            for link in plan.decision.links:
                known = await self._store.external_id(link.canonical_id, link.system)
                if known != link.external_id and link not in wanted:
                    wanted.append(link)
        return wanted

    async def _advance_only(self, position: int) -> None:
        for _ in range(self.max_stale_retries + 1):
            checkpoint = await self._current()
            if position <= checkpoint.position:
                return
            try:
                async with self._store.transaction() as tx:
                    await tx.save_flow_state(
                        RUNNER_FLOW, self.name, {"position": position}, checkpoint.version
                    )
            except StaleFlowState:
                self._cached = None
                continue
            self._cached = _Checkpoint(position, checkpoint.version + 1)
            return


def _summary(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


def _inner(loaded: FlowState | None) -> JSONObject | None:
    if loaded is None:
        return None
    inner = loaded.state.get("state")
    return inner if isinstance(inner, dict) else None


def _applied(loaded: FlowState) -> int:
    applied = loaded.state.get("applied")
    if isinstance(applied, Mapping):
        return int(applied.get("position", 0))
    return 0


def _rejection_data(flow: str, key: str | None, event: Event, reason: str) -> JSONObject:
    return {
        "flow": flow,
        "key": key,
        "reason": reason,
        "event": {"id": event.id, "type": event.type, "source": event.source},
    }


def _outcome(position: int, plan: _Plan) -> StepOutcome:
    if plan.rejection is not None:
        outcome = "rejected"
    elif plan.key is None:
        outcome = "ignored"
    elif plan.skip:
        outcome = "skipped"
    else:
        outcome = "applied"
    if plan.skip:
        return StepOutcome(position, plan.flow.name, plan.key, outcome)
    return StepOutcome(
        position,
        plan.flow.name,
        plan.key,
        outcome,
        plan.rejection,
        tuple(plan.commands),
        tuple(plan.events),
        plan.created,
    )
