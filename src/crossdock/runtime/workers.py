"""Workers: many async workers per process claim commands from the store and run handlers.

A `WorkerPool` serves one or more destinations, each with its handler. It claims commands in
batches (never more than it has free worker slots, so no claimed command waits in a local
buffer while its lease runs), runs each in its own task under the command's correlation id,
extends the lease while a handler runs long, and settles the command by what the handler did:

- returned: `Store.complete` (with the result and result events of its `HandlerResult`);
- raised `RetryableError`: `Store.fail_retryable`, honouring its `retry_after`;
- raised `PermanentError`: `Store.fail_permanent` with its reason;
- dead either way (permanent, or out of attempts): a ``command.failed`` event
  (`crossdock.canonical.commands.failure_event`) is appended in the same transaction;
- raised anything else: a retryable failure with a traceback summary (a bug in one handler
  never kills a worker).

A `LeaseLost` from the store (another worker took the command over after this one's lease ran
out, so this one's late write was refused) is logged and counted, never raised. Shutdown
(`request_stop`, or SIGTERM/SIGINT with `install_signal_handlers`) stops claiming, lets
in-flight handlers finish within the grace period, then releases what is left so another worker
can take it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crossdock.backbone.store import (
    ClaimedCommand,
    JSONObject,
    LeaseLost,
    Store,
    StoreUnavailable,
)
from crossdock.canonical.commands import failure_event
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.observability.logging import bind_unit_of_work, get_logger, secret_registry
from crossdock.observability.metrics import HubMetrics
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.errors import PermanentError, RetryableError

__all__ = [
    "Handler",
    "HandlerResult",
    "WorkerConfig",
    "WorkerPool",
    "default_worker_id",
]

_MAX_ERROR_CHARS = 4000
_SETTLE_TRIES = 4


@dataclass(frozen=True, slots=True)
class HandlerResult:
    """What a successful handler returns.

    Attributes:
        result: JSON kept with the completed command (for example the ERP's id).
        events: Events to append atomically with the completion.
    """

    result: JSONObject | None = None
    events: Sequence[Event] = ()


Handler = Callable[[ClaimedCommand], Awaitable[HandlerResult | None]]
"""An async function that performs one claimed command; how it ends decides the outcome."""


def default_worker_id() -> str:
    """Return a worker id unique across hosts, processes and pools: ``host:pid:suffix``."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a pool claims and runs commands.

    Attributes:
        concurrency: Commands run at once (the number of async workers).
        batch_size: Most commands claimed in one store call.
        lease_seconds: Length of a lease; a worker that stops for longer loses its claims.
        extend_every: Seconds between lease extensions of a running handler (default: a third
            of the lease).
        grace_seconds: How long shutdown waits for in-flight handlers before releasing them.
        idle_min_seconds: First wait after an empty claim.
        idle_max_seconds: Longest wait between claims when idle (waits double up to it).
        depth_every: Seconds between queue-depth samples for the metrics (None: never).
        stop_when_empty: Stop by itself once the served destinations have no unfinished
            command (batch runs and tests).
        worker_id: The name claims are taken under (default: host, pid and a random suffix).
    """

    concurrency: int = 16
    batch_size: int = 16
    lease_seconds: float = 30.0
    extend_every: float | None = None
    grace_seconds: float = 10.0
    idle_min_seconds: float = 0.02
    idle_max_seconds: float = 1.0
    depth_every: float | None = 5.0
    stop_when_empty: bool = False
    worker_id: str = field(default_factory=default_worker_id)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1:
            raise ValueError("concurrency and batch_size must be at least 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        if self.extend_every is not None and self.extend_every <= 0:
            raise ValueError("extend_every must be positive")
        if not 0 < self.idle_min_seconds <= self.idle_max_seconds:
            raise ValueError("need 0 < idle_min_seconds <= idle_max_seconds")

    @property
    def extend_interval(self) -> float:
        """Seconds between lease extensions."""
        return self.extend_every if self.extend_every is not None else self.lease_seconds / 3


def _error_summary(exc: BaseException) -> str:
    """Return the exception and the last frames of its traceback, short and without secrets."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "".join(traceback.format_list(frames))
    text = f"{type(exc).__name__}: {exc}\n{where}".strip()
    return secret_registry.scrub(text)[-_MAX_ERROR_CHARS:]


class WorkerPool:
    """Many async workers in one process, claiming commands for one or more destinations."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        config: WorkerConfig | None = None,
        *,
        metrics: HubMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Create a pool; nothing runs until `run`.

        Args:
            store: the durable store to claim from.
            handlers: the handler of each destination this pool serves.
            config: claim, lease and shutdown settings.
            metrics: where attempts, latencies and queue depth are counted (a private
                registry when None).
            clock: the clock for latencies (the system clock when None).
        """
        if not handlers:
            raise ValueError("a worker pool needs at least one destination handler")
        self._store = store
        self._handlers = dict(handlers)
        self.config = config or WorkerConfig()
        self.metrics = metrics or HubMetrics()
        self._clock = clock or SystemClock()
        self._log = get_logger("crossdock.runtime.workers", worker=self.config.worker_id)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._releasing: set[asyncio.Task[None]] = set()
        self._signals: list[signal.Signals] = []
        self.completed = 0
        """Commands this pool completed (for callers and tests; the metrics have the detail)."""

    # control ---------------------------------------------------------------------------------
    @property
    def destinations(self) -> list[str]:
        """The destinations this pool serves."""
        return sorted(self._handlers)

    @property
    def in_flight(self) -> int:
        """Commands being handled right now."""
        return len(self._in_flight)

    def notify(self) -> None:
        """Wake an idle pool at once (call after enqueueing in the same process)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Begin a graceful shutdown: stop claiming, finish or release what is in flight."""
        self._stopping.set()
        self._wake.set()
        self._slot_freed.set()

    def install_signal_handlers(self) -> None:
        """Make SIGTERM and SIGINT begin a graceful shutdown (call inside the running loop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
            self._signals.append(sig)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        while self._signals:
            loop.remove_signal_handler(self._signals.pop())

    # main loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Claim and run commands until a stop is requested, then shut down gracefully."""
        self._log.info("pool_started", destinations=self.destinations)
        sampler = (
            asyncio.create_task(self._sample_depth(self.config.depth_every))
            if self.config.depth_every
            else None
        )
        try:
            await self._claim_loop()
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            await self._shutdown()
            self._remove_signal_handlers()
        self._log.info("pool_stopped", completed=self.completed)

    async def _claim_loop(self) -> None:
        idle = self.config.idle_min_seconds
        while not self._stopping.is_set():
            free = self.config.concurrency - len(self._in_flight)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            # Cleared before the claim, so a notify or stop during the claim is not lost.
            self._wake.clear()
            claims = await self._claim(min(free, self.config.batch_size))
            if claims is None:  # the store failed: back off as when idle
                await self._idle_wait(idle)
                idle = min(idle * 2, self.config.idle_max_seconds)
                continue
            for claim in claims:
                self._start(claim)
            if claims:
                idle = self.config.idle_min_seconds
                continue
            if self.config.stop_when_empty and await self._nothing_left():
                self.request_stop()
                break
            await self._idle_wait(idle)
            idle = min(idle * 2, self.config.idle_max_seconds)

    async def _claim(self, limit: int) -> list[ClaimedCommand] | None:
        try:
            return await self._store.claim(
                self.config.worker_id,
                destinations=self.destinations,
                limit=limit,
                lease_seconds=self.config.lease_seconds,
            )
        except StoreUnavailable as exc:
            self._log.warning("claim_failed", error=str(exc))
        except Exception:
            self._log.exception("claim_failed")
        return None

    async def _idle_wait(self, seconds: float) -> None:
        if self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _nothing_left(self) -> bool:
        if self._in_flight:
            return False
        try:
            depth = await self._store.queue_depth()
        except Exception:
            self._log.exception("queue_depth_failed")
            return False
        return not any(depth.get(d, 0) for d in self._handlers)

    async def _sample_depth(self, every: float) -> None:
        while True:
            try:
                depth = await self._store.queue_depth()
            except Exception as exc:
                self._log.warning("queue_depth_failed", error=str(exc))
            else:
                self.metrics.set_queue_depth(depth, known=set(self._handlers))
            await asyncio.sleep(every)

    def _start(self, claim: ClaimedCommand) -> None:
        task = asyncio.create_task(self._run_one(claim), name=f"command-{claim.command_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            # _run_one catches everything; reaching here is a bug worth a loud line.
            self._log.error("worker_task_crashed", error=repr(task.exception()))

    # shutdown --------------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        if self._in_flight:
            self._log.info("draining", in_flight=len(self._in_flight))
            _, pending = await asyncio.wait(set(self._in_flight), timeout=self.config.grace_seconds)
            for task in pending:
                task.cancel()  # each cancelled task releases its own claim
            if pending:
                await asyncio.wait(pending)
        if self._releasing:
            await asyncio.wait(set(self._releasing))

    # one command -----------------------------------------------------------------------------
    async def _run_one(self, claim: ClaimedCommand) -> None:
        command = claim.command
        with bind_unit_of_work(
            correlation_id=command.correlation_id or command.idempotency_key,
            command_id=claim.command_id,
            idempotency_key=command.idempotency_key,
            destination=command.destination,
            attempt=claim.attempt,
            fencing_token=claim.token,
        ):
            holder = _LeaseHolder(claim)
            keeper = asyncio.create_task(self._keep_lease(holder))
            started = self._clock.monotonic()
            try:
                outcome = await self._call_handler(claim)
            except asyncio.CancelledError:
                self._release_later(holder.claim)
                raise
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            elapsed = self._clock.monotonic() - started
            self.metrics.observe_handler(command.destination, outcome.kind, elapsed)
            # Settle even when an extension was refused: the store is the only judge of who
            # holds the command, and a refused write is logged and counted like any other.
            await self._settle(holder.claim, outcome)

    async def _call_handler(self, claim: ClaimedCommand) -> _Outcome:
        handler = self._handlers[claim.command.destination]
        try:
            result = await handler(claim)
        except RetryableError as exc:
            return _Outcome("retry", error=exc.message, retry_after=exc.retry_after)
        except PermanentError as exc:
            return _Outcome("permanent", error=str(exc), reason=exc.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.exception("handler_crashed")
            return _Outcome("crash", error=_error_summary(exc))
        return _Outcome("completed", result=result or HandlerResult())

    async def _keep_lease(self, holder: _LeaseHolder) -> None:
        interval = self.config.extend_interval
        while True:
            await asyncio.sleep(interval)
            try:
                holder.claim = await self._store.extend(holder.claim, self.config.lease_seconds)
            except LeaseLost:
                holder.lost = True
                self._lease_lost(holder.claim, "extend")
                return
            except Exception as exc:
                # Keep trying: the lease may still be valid at the next tick.
                self._log.warning("lease_extend_failed", error=str(exc))

    async def _settle(self, claim: ClaimedCommand, outcome: _Outcome) -> None:
        destination = claim.command.destination
        operation = "complete" if outcome.kind == "completed" else "fail"
        for attempt in range(1, _SETTLE_TRIES + 1):
            try:
                await self._write_outcome(claim, outcome)
            except LeaseLost:
                self._lease_lost(claim, operation)
                return
            except StoreUnavailable as exc:
                self._log.warning("settle_failed", error=str(exc), try_number=attempt)
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            except Exception:
                self._log.exception("settle_failed", try_number=attempt)
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            return
        # The lease will run out and another worker (or this one) will take the command over.
        self.metrics.record_attempt(destination, "unsettled")
        self._log.error("settle_abandoned", outcome=outcome.kind)

    async def _write_outcome(self, claim: ClaimedCommand, outcome: _Outcome) -> None:
        destination = claim.command.destination
        if outcome.kind == "completed":
            assert outcome.result is not None
            await self._store.complete(
                claim, outcome.result.result, result_events=outcome.result.events
            )
            self.completed += 1
            self.metrics.record_attempt(destination, "completed")
            self._observe_latency(claim)
            self._log.info("command_completed")
        elif outcome.kind == "permanent":
            reason = outcome.reason or "permanent failure"
            # The dead letter and its command.failed event commit together: the flow that
            # asked always hears of it, and never of a failure that was rolled back.
            async with self._store.transaction() as tx:
                await tx.fail_permanent(claim, outcome.error or reason, reason)
                await tx.append_events(_failure_event(claim, reason, outcome.error))
            self.metrics.record_attempt(destination, "dead")
            self._log.warning("command_dead", reason=reason, error=outcome.error)
        else:
            error = outcome.error or outcome.kind
            async with self._store.transaction() as tx:
                retry = await tx.fail_retryable(claim, error, retry_after=outcome.retry_after)
                if retry.dead:
                    await tx.append_events(_failure_event(claim, "out of attempts", error))
            self.metrics.record_attempt(destination, "dead" if retry.dead else "retry")
            self._log.warning(
                "command_dead" if retry.dead else "command_retry",
                error=outcome.error,
                next_attempt_at=retry.next_attempt_at,
            )

    def _observe_latency(self, claim: ClaimedCommand) -> None:
        enqueued_at: datetime | None = getattr(claim, "enqueued_at", None)
        if enqueued_at is None:
            return
        seconds = (datetime.now(UTC) - enqueued_at).total_seconds()
        self.metrics.observe_command(claim.command.destination, seconds)

    def _lease_lost(self, claim: ClaimedCommand, operation: str) -> None:
        self.metrics.record_lease_lost(claim.command.destination, operation)
        self._log.warning("lease_lost", operation=operation)

    def _release_later(self, claim: ClaimedCommand) -> None:
        # Runs apart from the cancelled task so the release is not cancelled with it.
        task = asyncio.create_task(self._release(claim))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, claim: ClaimedCommand) -> None:
        with bind_unit_of_work(
            correlation_id=claim.command.correlation_id or claim.command.idempotency_key,
            command_id=claim.command_id,
            destination=claim.command.destination,
        ):
            try:
                await self._store.release(claim)
            except LeaseLost:
                self._lease_lost(claim, "release")
            except Exception:
                self._log.exception("release_failed")
            else:
                self.metrics.record_attempt(claim.command.destination, "released")
                self._log.info("command_released")


def _failure_event(claim: ClaimedCommand, reason: str, error: str | None) -> Event:
    command = claim.command
    # A PermanentError's text already starts with its reason: do not say it twice.
    detail = (
        error if error and error.startswith(reason) else f"{reason}: {error}" if error else reason
    )
    return failure_event(
        kind=command.kind,
        destination=command.destination,
        idempotency_key=command.idempotency_key,
        payload=command.payload,
        reason=detail[:_MAX_ERROR_CHARS],
        correlation_id=command.correlation_id,
    )


@dataclass(slots=True)
class _LeaseHolder:
    claim: ClaimedCommand
    lost: bool = False


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: str  # completed, retry, permanent or crash
    result: HandlerResult | None = None
    error: str | None = None
    reason: str | None = None
    retry_after: float | None = None
