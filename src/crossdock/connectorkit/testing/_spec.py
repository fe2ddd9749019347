"""What a connector's conformance battery needs to know about it and its simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crossdock.backbone.store import Command, Delivery
from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.errors import (
    AuthFailedError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectorkit.http import HttpClient
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import BreakerConfig, CircuitBreaker, RateBudget

DEFAULT_ERROR_CLASSES: Mapping[int, type[Exception]] = MappingProxyType(
    {
        400: PermanentFailureError,
        401: AuthFailedError,
        404: PermanentFailureError,
        422: PermanentFailureError,
        429: RateLimitedError,
        500: RetryLaterError,
        502: RetryLaterError,
        503: RetryLaterError,
        504: RetryLaterError,
    }
)
"""Status forced by the simulator's fault injection -> the exact exception `perform` raises.

504 is ambiguous: the battery's sample command is idempotent (or settled), so it is retried.
Extend it per system with `error_classes(...)`, e.g. Shopify's ``403`` (auth) and ``423`` (retry).
"""


def error_classes(**changes: type[Exception] | None) -> Mapping[int, type[Exception]]:
    """`DEFAULT_ERROR_CLASSES` with changes keyed ``s<status>``; None removes a status.

    Example: ``error_classes(s403=AuthFailedError, s423=RetryLaterError, s400=None)``.
    """
    table = dict(DEFAULT_ERROR_CLASSES)
    for name, expected in changes.items():
        if not (name.startswith("s") and name[1:].isdigit()):
            raise ValueError(f"use s<status> keys, e.g. s423, not {name!r}")
        status = int(name[1:])
        if expected is None:
            table.pop(status, None)
        else:
            table[status] = expected
    return MappingProxyType(dict(sorted(table.items())))


@dataclass(frozen=True)
class SimulatorEnv:
    """A simulator running for one test.

    Attributes:
        base_url: Where it listens (``http://127.0.0.1:<port>``); ``/_sandbox`` is under it.
        credentials: The test credentials it accepts (its manifest entry's).
        handle: The simulator object itself, for the spec's own hooks (the battery never
            touches it).
    """

    base_url: str
    credentials: Mapping[str, Any]
    handle: Any = None


@dataclass(frozen=True)
class ConnectorOptions:
    """What the battery varies when it asks the spec for a connector.

    Attributes:
        http: The HTTP seam (a real aiohttp pool, closed by the battery).
        credentials: The credentials to use (the simulator's, or spoiled ones).
        rate_budget: The budget to use; None means the connector's own default.
        breaker: The breaker to use; None means the connector's own default.
        clock: A clock for the connector, or None for its default.
        timeout: Seconds every call may take, or None for the connector's default. The spec
            must apply it to every call (a connector with its own per-call timeout setting
            maps it there).
    """

    http: HttpClient
    credentials: Mapping[str, Any]
    rate_budget: RateBudget | None = None
    breaker: CircuitBreaker | None = None
    clock: Clock | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class CommandSample:
    """A command whose effect the simulator's ledger counts.

    The command's first request must be the one with the effect (the battery loses its
    answer to prove the retry is safe).

    Attributes:
        command: The command (its kind has a handler on the connector).
        effect_kind: The ledger's kind for it, e.g. ``inventory`` or ``order``.
        effect_key: The business key, e.g. ``<item>@<location>`` or the order key.
    """

    command: Command
    effect_kind: str
    effect_key: str


@dataclass(frozen=True)
class InboundSample:
    """One delivery as the system sends it: headers and the exact raw bytes."""

    headers: Mapping[str, str]
    body: bytes


def rewrite_body(sample: InboundSample) -> InboundSample:
    """A forgery: the same headers over a body with one byte changed."""
    body = bytearray(sample.body)
    if not body:
        return InboundSample(sample.headers, b" ")
    body[-1] = ord(" ") if body[-1] != ord(" ") else ord("\n")
    return InboundSample(sample.headers, bytes(body))


@dataclass(frozen=True)
class InboundSpec:
    """How a system's deliveries are made and received.

    Attributes:
        sample: Makes a genuine delivery (signed as the system signs it) whose decoding
            yields at least one event; it may create state in the simulator first.
        to_delivery: What the hub's ingress does with a verified request: the inbox
            `Delivery` (its dedupe key is what the battery checks).
        tamper: Turns a genuine delivery into a forgery that `verify` must refuse
            (default: a rewritten body; a system that signs nothing swaps its token).
    """

    sample: Callable[[SimulatorEnv], Awaitable[InboundSample]]
    to_delivery: Callable[[Connector, InboundSample], Delivery]
    tamper: Callable[[InboundSample], InboundSample] = rewrite_body


@dataclass(frozen=True)
class RateLimitSpec:
    """How to show the system's rate limit and the connector's budget against it.

    Attributes:
        burst: Calls in the burst; more than the (tightened) quota allows at once.
        concurrency: Workers sharing the connector (and its budget) during the burst.
        tighten: Scales the simulator's quota down so the burst is quick, or None to keep the
            real one.
        budget: The budget that mirrors the tightened quota (given the destination name), or
            None for the connector's own default.
    """

    burst: int
    concurrency: int = 4
    tighten: Callable[[SimulatorEnv], Awaitable[None]] | None = None
    budget: Callable[[str], RateBudget] | None = None


def _default_classes() -> Mapping[int, type[Exception]]:
    return DEFAULT_ERROR_CLASSES


def _breaker_config() -> BreakerConfig:
    return BreakerConfig(failure_threshold=3, open_seconds=30.0)


@dataclass(frozen=True)
class ConformanceSpec:
    """One connector and its simulator, as the conformance battery drives them.

    Attributes:
        name: The system's name (test ids, breaker and budget names).
        start: Starts a fresh simulator on loopback and yields its `SimulatorEnv`; stops it
            on exit. Called once per test.
        connect: Builds the connector for a simulator with the given options.
        spoil_credentials: Returns credentials the simulator refuses (a wrong key, secret or
            token).
        probe: A cheap read through the connector (no effect).
        command: Makes the sample command (it may create state in the simulator first).
        error_classes: Status forced by fault injection -> exact exception `perform` raises.
        auth_refresh: Invalidates the connector's current access token in the simulator (an
            expiry or a revocation), for schemes that refresh; None when the scheme has no
            refresh (a static key, Basic auth): its case is skipped.
        rate_limit: How to show the rate budget respected; None when the simulator enforces
            no limit worth a burst: its cases are skipped.
        inbound: How deliveries are made; None for a system that sends none.
        breaker: The breaker thresholds the battery uses.
        timeout: Seconds a call may take in the lost-answer case.
    """

    name: str
    start: Callable[[], AbstractAsyncContextManager[SimulatorEnv]]
    connect: Callable[[SimulatorEnv, ConnectorOptions], Connector]
    spoil_credentials: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    probe: Callable[[Connector], Awaitable[object]]
    command: Callable[[SimulatorEnv], Awaitable[CommandSample]]
    error_classes: Mapping[int, type[Exception]] = field(default_factory=_default_classes)
    auth_refresh: Callable[[SimulatorEnv], Awaitable[None]] | None = None
    rate_limit: RateLimitSpec | None = None
    inbound: InboundSpec | None = None
    breaker: BreakerConfig = field(default_factory=_breaker_config)
    timeout: float = 0.5
