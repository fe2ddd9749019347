"""The connector base: a class configured by attributes, with a few named override points.

A connector speaks one external system. Inbound, `verify` checks a delivery's signature on the
raw bytes and `decode` turns it into canonical events. Outbound, one handler per canonical
command kind (registered with `@handles`) performs the command through `call`, which runs
every request through the same pipeline::

    breaker check -> rate budget -> auth -> HTTP with a deadline -> budget feedback
    -> classification by the error table -> on auth: refresh and retry once -> exception

An ambiguous outcome (no response after sending) is never resent blindly: an idempotent
request is retried; a non-idempotent command is settled by `settle_ambiguous` (a lookup by
idempotency key or external id), which every connector with such a handler must implement.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.connectorkit.auth import AuthScheme, NoAuth
from crossdock.connectorkit.classify import DEFAULT_ERROR_TABLE, Classification, ErrorTable, Outcome
from crossdock.connectorkit.errors import (
    AmbiguousOutcomeError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectorkit.http import (
    AmbiguousRequestError,
    HttpClient,
    HttpRequest,
    HttpResponse,
    Params,
    RequestNotSentError,
)
from crossdock.connectorkit.http._client import UNSET
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.resilience import (
    BreakerOpenError,
    CircuitBreaker,
    Feedback,
    Permit,
    RateBudget,
    Ticket,
    Unlimited,
)

ConnectorT = TypeVar("ConnectorT", bound="Connector")
HandlerFn = Callable[[ConnectorT, Command], Awaitable[JSONObject]]
_HANDLES_ATTR = "__crossdock_handles__"


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A registered command handler.

    Attributes:
        kind: The canonical command kind, e.g. ``inventory.set``.
        method: The handler's attribute name on the connector class.
        idempotent: Whether performing the command twice has the effect of once.
    """

    kind: str
    method: str
    idempotent: bool


def handles(
    kind: str, *, idempotent: bool = True
) -> Callable[[HandlerFn[ConnectorT]], HandlerFn[ConnectorT]]:
    """Register the decorated method as the handler of command `kind`.

    Args:
        kind: The canonical command kind, e.g. ``inventory.set``.
        idempotent: False when performing it twice would have two effects (a plain create);
            the connector must then implement `settle_ambiguous`.
    """

    def mark(function: HandlerFn[ConnectorT]) -> HandlerFn[ConnectorT]:
        setattr(function, _HANDLES_ATTR, (kind, idempotent))
        return function

    return mark


class Connector:
    """Base class of every connector; configure it by class attributes, override the hooks.

    Class attributes:
        system: The system's name, e.g. ``shopify``.
        base_url: The default base URL (the sandbox or a tenant URL overrides it per instance).
        error_table: The classification table (extend `DEFAULT_ERROR_TABLE`).
        default_timeout: Seconds a call may take when it gives no deadline.

    Args:
        http: The shared HTTP seam (its transport's pool is shared by all calls).
        destination: This instance's destination name, e.g. ``shopify:acme`` (budget,
            breaker and metrics use it); defaults to `system`.
        base_url: Overrides the class's `base_url`.
        auth: The auth scheme (default: none).
        rate_budget: The destination's budget, shared by every worker of the process
            (default: `build_rate_budget()`).
        breaker: The destination's circuit breaker (default: `build_breaker()`).
        clock: The clock.
    """

    system: ClassVar[str] = ""
    base_url: ClassVar[str] = ""
    error_table: ClassVar[ErrorTable] = DEFAULT_ERROR_TABLE
    default_timeout: ClassVar[float] = 30.0
    handlers: ClassVar[Mapping[str, HandlerSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, HandlerSpec] = dict(cls.handlers)
        for name, value in vars(cls).items():
            marker = getattr(value, _HANDLES_ATTR, None)
            if marker is not None:
                kind, idempotent = marker
                found[kind] = HandlerSpec(kind=kind, method=name, idempotent=idempotent)
        cls.handlers = found
        settles = cls.settle_ambiguous is not Connector.settle_ambiguous
        unsettled = [s.kind for s in found.values() if not s.idempotent and not settles]
        if unsettled:
            raise TypeError(
                f"{cls.__name__} has non-idempotent handlers {unsettled} but no settle_ambiguous"
            )

    def __init__(
        self,
        *,
        http: HttpClient,
        destination: str | None = None,
        base_url: str | None = None,
        auth: AuthScheme | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.http = http
        self.destination = destination or self.system or type(self).__name__
        self.url = (base_url if base_url is not None else type(self).base_url).rstrip("/")
        self.auth: AuthScheme = auth or NoAuth()
        self.clock: Clock = clock or SystemClock()
        self.rate_budget: RateBudget = rate_budget or self.build_rate_budget()
        self.breaker: CircuitBreaker = breaker or self.build_breaker()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(destination={self.destination!r}, url={self.url!r})"

    # ---- override points -------------------------------------------------------------------

    def build_rate_budget(self) -> RateBudget:
        """Return this system's default budget when none is injected (default: unlimited)."""
        return Unlimited(self.destination, clock=self.clock)

    def build_breaker(self) -> CircuitBreaker:
        """Return this destination's default breaker when none is injected (in-memory)."""
        return CircuitBreaker(self.destination, clock=self.clock)

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Check an inbound delivery's signature over its raw bytes (see `verify_hmac`)."""
        raise NotImplementedError(f"{self.system or type(self).__name__} receives no deliveries")

    async def decode(self, delivery: Delivery) -> list[Event]:
        """Turn a verified delivery into canonical events."""
        raise NotImplementedError(f"{self.system or type(self).__name__} receives no deliveries")

    async def settle_ambiguous(self, command: Command) -> JSONObject | None:
        """Find out whether `command` took effect after an ambiguous outcome.

        Look it up by its idempotency key or external id. Return the result (as the handler
        would have) when it took effect, or None when it did not (it is then safe to resend).
        """
        raise NotImplementedError

    # ---- outbound --------------------------------------------------------------------------

    async def perform(self, command: Command, *, attempt: int = 1) -> JSONObject:
        """Perform `command` with its registered handler; settle ambiguity first on a retry.

        Args:
            command: The command from the outbox.
            attempt: Its attempt number (1 for the first). On a later attempt a non-idempotent
                command is settled first, since an earlier attempt may have taken effect and
                died (timeout, crash) before recording it.

        Raises:
            RetryableError: Try again later (its `retry_after` says when, if known).
            PermanentError: Dead-letter the command with its reason.
        """
        spec = self.handlers.get(command.kind)
        if spec is None:
            raise PermanentFailureError(f"{self.destination} has no handler for {command.kind!r}")
        if attempt > 1 and not spec.idempotent:
            settled = await self.settle_ambiguous(command)
            if settled is not None:
                return settled
        handler: Callable[[Command], Awaitable[JSONObject]] = getattr(self, spec.method)
        try:
            return await handler(command)
        except AmbiguousOutcomeError as exc:
            if not spec.idempotent:
                settled = await self.settle_ambiguous(command)
                if settled is not None:
                    return settled
            raise RetryLaterError(
                f"{exc}; {'settled as not applied' if not spec.idempotent else 'idempotent'}, "
                "safe to resend",
                classification=exc.classification,
            ) from exc

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        json: object = UNSET,
        content: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline per call is the contract
        deadline: float | None = None,
        idempotent: bool | None = None,
        cost: float = 1.0,
        table: ErrorTable | None = None,
    ) -> HttpResponse:
        """Make one request through breaker, budget, auth, deadline and the error table.

        Args:
            method: HTTP method.
            path: A path under the connector's URL, or an absolute URL.
            headers: Extra headers.
            params: Query parameters.
            json: A JSON body (`Decimal` exact).
            content: A raw body.
            timeout: Seconds for the whole call, refresh included (default: `default_timeout`).
            deadline: Absolute event-loop time by which the call must end (for example the
                end of the worker's lease); the earlier of it and `timeout` applies.
            idempotent: Whether resending is safe (default from the method and an
                ``Idempotency-Key`` header).
            cost: What the call costs the budget (a GraphQL query's requested cost).
            table: A table for this call only (default: the class's `error_table`).

        Returns:
            The response, when the table says OK.

        Raises:
            RetryLaterError, RateLimitedError, ConflictError: Retry later.
            PermanentFailureError, AuthFailedError: Dead-letter.
            AmbiguousOutcomeError: A non-idempotent request may have taken effect.
        """
        table = table or self.error_table
        url = path if "://" in path else f"{self.url}/{path.lstrip('/')}"
        own = asyncio.get_running_loop().time() + (timeout or self.default_timeout)
        deadline = own if deadline is None else min(deadline, own)
        try:
            ticket = await self.breaker.before_call()
        except BreakerOpenError as exc:
            raise RetryLaterError(str(exc), retry_after=exc.retry_after) from exc
        try:
            response, verdict, request = await self._exchange(
                table, method, url, headers, params, json, content, deadline, idempotent, cost
            )
        except RateLimitedError:  # our own budget said no: nothing was learnt about the system
            await self.breaker.release(ticket)
            raise
        except RetryLaterError:  # e.g. the token endpoint is unreachable
            await self.breaker.record_failure(ticket)
            raise
        except Exception:  # the system answered (a refused token, say): it is up
            await self.breaker.record_success(ticket)
            raise
        except BaseException:  # cancelled: free a probe for another worker
            await asyncio.shield(self.breaker.release(ticket))
            raise
        await self._report(ticket, verdict)
        if verdict.outcome is Outcome.OK and response is not None:
            return response
        if verdict.outcome is Outcome.AMBIGUOUS and request.idempotent:
            raise RetryLaterError(f"{verdict.reason}; the request is idempotent, safe to resend")
        raise verdict.to_exception()

    async def _exchange(
        self,
        table: ErrorTable,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Params | None,
        json: object,
        content: bytes | None,
        deadline: float,
        idempotent: bool | None,
        cost: float,
    ) -> tuple[HttpResponse | None, Classification, HttpRequest]:
        def build() -> HttpRequest:
            return self.http.build_request(
                method,
                url,
                headers=headers,
                params=params,
                json=json,
                content=content,
                deadline=deadline,
                idempotent=idempotent,
            )

        refreshed = False
        while True:
            permit = await self._permit(cost, deadline)
            try:
                request = build()  # after the budget's wait, so the timeout is what is left
            except RequestNotSentError as exc:  # the deadline passed
                self.rate_budget.release(permit, Feedback.not_sent())
                unsent = HttpRequest(method.upper(), url, 1.0, idempotent=bool(idempotent))
                return None, table.classify_error(exc), unsent
            response, verdict, signed = await self._send_once(table, request, permit)
            if verdict.outcome is Outcome.AUTH and not refreshed:
                refreshed = True
                if await self.auth.on_unauthorized(signed):
                    continue
            return response, verdict, signed

    async def _permit(self, cost: float, deadline: float) -> Permit:
        """Take a budget permit, unless the budget's wait outlasts the call's deadline: then
        the command is better rescheduled (its lease released) than held waiting."""
        loop = asyncio.get_running_loop()
        wait = self.rate_budget.wait_time(cost)
        if 0 < wait < math.inf and wait > deadline - loop.time():
            raise RateLimitedError(
                f"the {self.destination} rate budget asks for {wait:.1f} s, beyond this call's "
                "deadline",
                retry_after=wait,
            )
        try:
            async with asyncio.timeout_at(deadline):
                return await self.rate_budget.acquire(cost)
        except TimeoutError:
            wait = self.rate_budget.wait_time(cost)
            raise RateLimitedError(
                f"no {self.destination} rate budget before this call's deadline",
                retry_after=wait if math.isfinite(wait) else None,
            ) from None

    async def _send_once(
        self, table: ErrorTable, request: HttpRequest, permit: Permit
    ) -> tuple[HttpResponse | None, Classification, HttpRequest]:
        try:
            request = await self.auth.apply(request)
            response = await self.http.send(request)
        except RequestNotSentError as exc:
            self.rate_budget.release(permit, Feedback.not_sent())
            return None, table.classify_error(exc), request
        except AmbiguousRequestError as exc:
            self.rate_budget.release(permit, Feedback(sent=True))
            return None, table.classify_error(exc), request
        except BaseException:
            self.rate_budget.release(permit, Feedback.not_sent())
            raise
        wants_body = getattr(self.rate_budget, "wants_body", False)
        body = response.json_or_none() if wants_body else None
        self.rate_budget.release(permit, Feedback(response.status, response.headers, body))
        return response, table.classify(response), request

    async def _report(self, ticket: Ticket, verdict: Classification) -> None:
        if verdict.outcome in {Outcome.RETRY, Outcome.AMBIGUOUS}:
            await self.breaker.record_failure(ticket)
        else:
            await self.breaker.record_success(ticket)
