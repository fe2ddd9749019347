"""The decode worker: inbox rows become canonical events, or dead letters with their reason.

It claims received inbox rows under a lease, asks the row's system to decode it, and in one
store transaction appends the events and marks the row decoded. What cannot be decoded is kept
and marked dead with its reason (a totals mismatch reads ``quarantined: ...`` with the
difference); a failure the connector calls retryable (a lookup the decoding needs timed out)
leaves the row claimed until its lease ends, when it is tried again. A bad row never stops the
worker, and the other rows keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter
from structlog.typing import FilteringBoundLogger

from crossdock.api.ports import InboundSystem
from crossdock.backbone.store import (
    Delivery,
    InboxItem,
    InboxStatus,
    LeaseLost,
    Store,
    StoreError,
    Transaction,
)
from crossdock.canonical.envelope import Event
from crossdock.observability.logging import bind_unit_of_work, get_logger
from crossdock.observability.metrics import HubMetrics
from crossdock.runtime.errors import RetryableError
from crossdock.runtime.workers import default_worker_id

__all__ = ["DecodeWorker", "dead_reason"]


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.hub.decoder")


_MAX_REASON = 2000
_counters: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def _decode_counter(registry: CollectorRegistry) -> Counter:
    counter = _counters.get(registry)
    if counter is None:
        counter = Counter(
            "crossdock_inbox_decoded",
            "Inbox rows settled by the decode worker, by source and outcome "
            "(decoded, dead, quarantined, retry).",
            ["source", "outcome"],
            registry=registry,
        )
        _counters[registry] = counter
    return counter


def dead_reason(exc: BaseException) -> tuple[str, str]:
    """Return the outcome (``quarantined`` or ``dead``) and the reason kept with the row.

    An exception whose class name says it quarantines (``OrderQuarantined``) is a quarantine;
    its ``difference``, when it has one, is written into the reason.
    """
    text = str(exc) or type(exc).__name__
    if "quarantin" in type(exc).__name__.lower():
        difference = getattr(exc, "difference", None)
        suffix = f" (difference {difference})" if difference is not None else ""
        return "quarantined", f"quarantined: {text}{suffix}"[:_MAX_REASON]
    return "dead", f"{type(exc).__name__}: {text}"[:_MAX_REASON]


class DecodeWorker:
    """Turns inbox rows into canonical events.

    Args:
        store: The store holding the inbox and the event log.
        systems: The inbound systems by name (an inbox row's source names its system).
        metrics: Where decode outcomes are counted (``crossdock_inbox_decoded_total``).
        worker_id: The claim holder's name (default: host, pid and a suffix).
        batch_size: Rows claimed at a time.
        lease_seconds: How long a claim holds before another worker may take the row.
        idle_seconds: How long to wait for new rows when the inbox is empty.
    """

    def __init__(
        self,
        store: Store,
        systems: Mapping[str, InboundSystem],
        *,
        metrics: HubMetrics | None = None,
        worker_id: str | None = None,
        batch_size: int = 32,
        lease_seconds: float = 30.0,
        idle_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.systems = systems
        self.worker_id = worker_id or f"decoder:{default_worker_id()}"
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self._outcomes = _decode_counter((metrics or HubMetrics()).registry)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def notify(self) -> None:
        """Wake the worker now (the ingress calls it after recording a delivery)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop after the row being decoded; unfinished claims return when their lease ends."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Decode until `request_stop`; a store that is unavailable is waited out."""
        while not self._stop.is_set():
            try:
                settled = await self.run_once()
            except StoreError as exc:  # unavailable, locked, closed: wait it out
                _log().warning("inbox claim failed; retrying", error=str(exc))
                settled = 0
            except Exception:  # a bug must not end decoding for every other delivery
                _log().exception("decode batch failed; retrying")
                settled = 0
            if settled == 0:
                await self._idle()

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    async def run_once(self) -> int:
        """Claim one batch, decode it, and settle it; return how many rows were claimed.

        The settlements of a batch (events appended and rows marked decoded, or rows marked
        dead) commit in one transaction, so a batch costs one commit, not one per row. When
        that transaction fails (one claim was lost, say), each row is settled on its own.
        """
        items = await self.store.claim_inbox(
            self.worker_id, limit=self.batch_size, lease_seconds=self.lease_seconds
        )
        verdicts: list[_Verdict] = []
        for item in items:
            if self._stop.is_set():
                break
            with bind_unit_of_work(correlation_id=item.correlation_id, inbox_id=item.inbox_id):
                verdict = await self._decode(item)
            if verdict is not None:
                verdicts.append(verdict)
        if verdicts:
            await self._settle_batch(verdicts)
        return len(items)

    async def drain(self) -> int:
        """Decode until no received row is left (tests, and a bounded demo); return the count."""
        total = 0
        while (claimed := await self.run_once()) > 0:
            total += claimed
        return total

    async def _decode(self, item: InboxItem) -> _Verdict | None:
        system = self.systems.get(item.source)
        if system is None:
            reason = f"no configured inbound system is named {item.source!r}"
            return _Verdict(item, "dead", reason=reason)
        delivery = Delivery(
            item.source, item.dedupe_key, item.body, dict(item.headers), item.correlation_id
        )
        try:
            events = list(await system.decode(delivery))
        except RetryableError as exc:
            self._outcomes.labels(source=item.source, outcome="retry").inc()
            _log().warning(
                "decode deferred", source=item.source, error=str(exc), retry_in=self.lease_seconds
            )
            return None
        except Exception as exc:  # every other failure is kept with its reason, never raised
            outcome, reason = dead_reason(exc)
            return _Verdict(item, outcome, reason=reason)
        return _Verdict(item, "decoded", events=events)

    async def _settle_batch(self, verdicts: list[_Verdict]) -> None:
        try:
            async with self.store.transaction() as tx:
                for verdict in verdicts:
                    await verdict.write(tx)
        except (LeaseLost, StoreError) as exc:
            if len(verdicts) == 1:
                self._not_settled(verdicts[0], exc)
                return
            for verdict in verdicts:  # settle what can be settled, one row at a time
                await self._settle_batch([verdict])
            return
        for verdict in verdicts:
            self._settled(verdict)

    def _settled(self, verdict: _Verdict) -> None:
        item = verdict.item
        self._outcomes.labels(source=item.source, outcome=verdict.outcome).inc()
        with bind_unit_of_work(correlation_id=item.correlation_id, inbox_id=item.inbox_id):
            if verdict.outcome == "decoded":
                _log().info("delivery decoded", source=item.source, events=len(verdict.events))
            else:
                _log().warning(
                    "delivery dead-lettered",
                    source=item.source,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                )

    def _not_settled(self, verdict: _Verdict, exc: Exception) -> None:
        item = verdict.item
        with bind_unit_of_work(correlation_id=item.correlation_id, inbox_id=item.inbox_id):
            if isinstance(exc, LeaseLost):
                _log().warning("inbox claim lost; another worker settles it", source=item.source)
            else:
                _log().warning("settlement not stored; retried later", error=str(exc))


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What decoding one row gave: events to append, or the reason it is dead."""

    item: InboxItem
    outcome: str  # decoded, dead or quarantined
    events: list[Event] = field(default_factory=list)
    reason: str | None = None

    async def write(self, tx: Transaction) -> None:
        if self.outcome == "decoded":
            if self.events:
                await tx.append_events(*self.events)
            await tx.mark_inbox(self.item, InboxStatus.DECODED)
        else:
            await tx.mark_inbox(self.item, InboxStatus.DEAD, self.reason)
