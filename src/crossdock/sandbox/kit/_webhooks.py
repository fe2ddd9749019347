"""The outbound webhook sender: signs, retries like the real system, and misbehaves on request.

Chaos (duplicate, delay, drop, reorder) is drawn at emission time from a generator seeded by
``(seed, emission number)``, so a seed and a sequence of emissions always give the same chaos.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from crossdock.sandbox.kit._signing import Signer


@dataclass(frozen=True)
class RetrySchedule:
    """The delays between delivery attempts, as the real system spaces them.

    Attributes:
        delays_s: The wait before each retry, in the system's real seconds; its length is the
            number of retries after the first attempt.
        time_scale: Multiplies every delay (e.g. 0.0001 squeezes Shopify's 4 h into ~1.4 s).
    """

    delays_s: tuple[float, ...]
    time_scale: float = 1.0

    @classmethod
    def exponential(cls, retries: int, total_s: float, time_scale: float = 1.0) -> RetrySchedule:
        """Doubling delays whose sum is ``total_s`` (no retries when ``retries`` is 0)."""
        if retries <= 0:
            return cls((), time_scale)
        first = total_s / (2**retries - 1)
        return cls(tuple(first * 2**i for i in range(retries)), time_scale)

    @classmethod
    def shopify(cls, time_scale: float = 1.0) -> RetrySchedule:
        """Shopify since 2024-09: 8 retries over 4 hours, exponential backoff."""
        return cls.exponential(8, 4 * 3600.0, time_scale)

    @property
    def retries(self) -> int:
        """How many retries follow a failed first attempt."""
        return len(self.delays_s)

    def delay(self, retry_index: int) -> float | None:
        """The scaled wait before retry ``retry_index`` (0-based), or None when out of retries."""
        if retry_index >= len(self.delays_s):
            return None
        return self.delays_s[retry_index] * self.time_scale


class ChaosSpec(BaseModel):
    """How badly deliveries behave; every probability is drawn per delivery.

    Attributes:
        duplicate_rate: Send the delivery twice (same webhook id, same event id).
        drop_rate: Never send it (recorded as dropped).
        delay_rate: Hold it back by ``delay_s`` before the first attempt.
        delay_s: The extra delay, in real seconds.
        reorder_rate: Hold it until the next emitted delivery has been attempted once.
        reorder_hold_s: The longest a delivery is held for reordering: when nothing is emitted
            after it in that time, it is sent anyway (the last webhook of a quiet system is
            late, never lost).
    """

    model_config = ConfigDict(extra="forbid")

    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    delay_rate: float = Field(default=0.0, ge=0, le=1)
    delay_s: float = Field(default=0.0, ge=0)
    reorder_rate: float = Field(default=0.0, ge=0, le=1)
    reorder_hold_s: float = Field(default=5.0, ge=0)


@dataclass
class Subscription:
    """Where deliveries of some topics go."""

    id: int
    address: str
    topics: frozenset[str] | None = None
    name: str | None = None

    def matches(self, topic: str) -> bool:
        """Whether this subscription wants ``topic``."""
        return self.topics is None or topic in self.topics

    def as_json(self) -> dict[str, Any]:
        """JSON-ready view."""
        topics = sorted(self.topics) if self.topics is not None else None
        return {"id": self.id, "address": self.address, "topics": topics, "name": self.name}


DeliveryState = Literal["pending", "delivered", "failed", "dropped"]


@dataclass
class Delivery:
    """One event sent to one subscription, with all its attempts."""

    webhook_id: str
    event_id: str
    topic: str
    address: str
    body: bytes
    triggered_at: str
    subscription_name: str | None = None
    state: DeliveryState = "pending"
    chaos: list[str] = field(default_factory=list)
    first_attempt_done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready view (the body as text)."""
        return {
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "topic": self.topic,
            "address": self.address,
            "triggered_at": self.triggered_at,
            "state": self.state,
            "chaos": list(self.chaos),
            "body": self.body.decode("utf-8", errors="replace"),
        }


@dataclass(frozen=True)
class DeliveryAttempt:
    """One HTTP attempt of a delivery."""

    webhook_id: str
    event_id: str
    topic: str
    address: str
    attempt: int
    duplicate: bool
    at: str
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the receiver answered 2xx in time."""
        return self.status is not None and 200 <= self.status < 300


HeaderFactory = Callable[[Delivery], Mapping[str, str]]


def _no_headers(_: Delivery) -> Mapping[str, str]:
    return {}


class WebhookSender:
    """Sends signed deliveries with retries and injected chaos; records every attempt.

    Args:
        signer: Signs each body's raw bytes.
        schedule: The retry spacing.
        headers: The system's headers for a delivery (topic, ids, timestamps...).
        seed: Seeds the chaos draws.
        timeout_s: The receiver must answer within this (Shopify: 5 s).
        connect_timeout_s: The connection must open within this (Shopify: about 1 s).
        ssl_context: Trust settings for HTTPS receivers (None: the default trust store).
        id_factory: Makes delivery and event ids (default: UUID4 text).
    """

    def __init__(
        self,
        signer: Signer,
        schedule: RetrySchedule,
        *,
        headers: HeaderFactory = _no_headers,
        seed: int = 0,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self.signer = signer
        self.schedule = schedule
        self._headers = headers
        self._seed = seed
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._ssl_context = ssl_context
        self._new_id = id_factory or (lambda: str(uuid.uuid4()))
        self._chaos = ChaosSpec()
        self._emissions = itertools.count(1)
        self._subscription_ids = itertools.count(1)
        self._subscriptions: dict[int, Subscription] = {}
        self._deliveries: list[Delivery] = []
        self._attempts: list[DeliveryAttempt] = []
        self._held: Delivery | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(
        self, address: str, topics: list[str] | None = None, name: str | None = None
    ) -> Subscription:
        """Send deliveries of ``topics`` (all topics when None) to ``address``."""
        sub = Subscription(
            next(self._subscription_ids),
            address,
            frozenset(topics) if topics is not None else None,
            name,
        )
        self._subscriptions[sub.id] = sub
        return sub

    def unsubscribe(self, subscription_id: int) -> bool:
        """Remove a subscription; returns whether it existed."""
        return self._subscriptions.pop(subscription_id, None) is not None

    @property
    def subscriptions(self) -> list[Subscription]:
        """The current subscriptions."""
        return list(self._subscriptions.values())

    # -- chaos -----------------------------------------------------------------------------

    @property
    def chaos(self) -> ChaosSpec:
        """The delivery chaos in force."""
        return self._chaos

    def configure_chaos(self, spec: ChaosSpec, seed: int | None = None) -> None:
        """Replace the delivery chaos (and optionally reseed it)."""
        self._chaos = spec
        if seed is not None:
            self._seed = seed
            self._emissions = itertools.count(1)

    # -- sending ---------------------------------------------------------------------------

    def emit(
        self,
        topic: str,
        body: bytes,
        *,
        event_id: str | None = None,
        triggered_at: datetime | None = None,
    ) -> list[Delivery]:
        """Queue one event for every subscription that wants ``topic``; returns the deliveries.

        Must be called from inside the running event loop (a request handler, a task).
        """
        event = event_id or self._new_id()
        fired = (triggered_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
        made = []
        for sub in self._subscriptions.values():
            if not sub.matches(topic):
                continue
            delivery = Delivery(self._new_id(), event, topic, sub.address, body, fired, sub.name)
            self._deliveries.append(delivery)
            self._dispatch(delivery)
            made.append(delivery)
        return made

    def _dispatch(self, delivery: Delivery) -> None:
        rng = random.Random(f"{self._seed}:{next(self._emissions)}")
        chaos = self._chaos
        drop, dup, delay, reorder = rng.random(), rng.random(), rng.random(), rng.random()
        held, self._held = self._held, None
        if drop < chaos.drop_rate:
            delivery.chaos.append("dropped")
            delivery.state = "dropped"
            delivery.first_attempt_done.set()
        else:
            extra = 0.0
            if delay < chaos.delay_rate:
                delivery.chaos.append("delayed")
                extra = chaos.delay_s
            if reorder < chaos.reorder_rate and held is None:
                delivery.chaos.append("reordered")
                self._held = delivery
                asyncio.get_running_loop().call_later(
                    chaos.reorder_hold_s, self._release_if_held, delivery
                )
            else:
                self._spawn(self._run(delivery, extra, duplicate=False))
            if dup < chaos.duplicate_rate:
                delivery.chaos.append("duplicated")
                self._spawn(self._run(delivery, extra, duplicate=True, after=delivery))
        if held is not None:
            self._spawn(self._run(held, 0.0, duplicate=False, after=delivery))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        delivery: Delivery,
        extra_delay: float,
        *,
        duplicate: bool,
        after: Delivery | None = None,
    ) -> None:
        if after is not None:
            await after.first_attempt_done.wait()
        if extra_delay:
            await asyncio.sleep(extra_delay)
        attempt = 1
        while True:
            ok = await self._attempt(delivery, attempt, duplicate)
            if not duplicate:
                delivery.first_attempt_done.set()
            if ok:
                if not duplicate:
                    delivery.state = "delivered"
                return
            wait = self.schedule.delay(attempt - 1)
            if wait is None:
                if not duplicate:
                    delivery.state = "failed"
                return
            await asyncio.sleep(wait)
            attempt += 1

    async def _attempt(self, delivery: Delivery, number: int, duplicate: bool) -> bool:
        headers = {"Content-Type": "application/json"}
        headers.update(self._headers(delivery))
        headers.update(self.signer.sign(delivery.body))
        status: int | None = None
        error: str | None = None
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            session = self._get_session()
            async with session.post(
                delivery.address,
                data=delivery.body,
                headers=headers,
                ssl=self._ssl_context if self._ssl_context is not None else True,
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = DeliveryAttempt(
            delivery.webhook_id,
            delivery.event_id,
            delivery.topic,
            delivery.address,
            number,
            duplicate,
            at,
            status,
            error,
        )
        self._attempts.append(record)
        return record.ok

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    # -- inspection and lifecycle ----------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery emitted so far, in emission order."""
        return list(self._deliveries)

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every HTTP attempt made so far, in the order they finished."""
        return list(self._attempts)

    def attempts_json(self) -> list[dict[str, Any]]:
        """Every attempt as JSON-ready data."""
        return [asdict(a) | {"ok": a.ok} for a in self._attempts]

    def _release_if_held(self, delivery: Delivery) -> None:
        if self._held is delivery:
            self.release_held()

    def release_held(self) -> None:
        """Send a delivery held back for reordering now (nothing newer came to overtake it)."""
        held, self._held = self._held, None
        if held is not None:
            self._spawn(self._run(held, 0.0, duplicate=False))

    @property
    def pending(self) -> int:
        """Deliveries still being attempted or waiting for a retry."""
        return len(self._tasks) + (1 if self._held is not None else 0)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait until every queued delivery has succeeded or run out of retries.

        Raises:
            TimeoutError: Deliveries were still pending after ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while self._tasks or self._held is not None:
                self.release_held()
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def clear(self) -> None:
        """Forget the recorded deliveries and attempts (subscriptions stay)."""
        self._deliveries.clear()
        self._attempts.clear()

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP session."""
        self._held = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
