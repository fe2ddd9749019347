"""Error classification as data: an ordered table of rules per connector.

Each `Rule` matches an HTTP status (or range), error codes found in the body (shell-style
patterns such as ``BadRequest_*``), a transport exception, or a predicate, and names an
`Outcome`. `ErrorTable.classify` returns the first match as a `Classification`, which
`Classification.to_exception` turns into the exception a worker acts on. A connector extends
the default table with its own rules, which take precedence::

    TABLE = DEFAULT_ERROR_TABLE.extend(
        Rule(Outcome.RATE_LIMITED, codes={"REQUEST_LIMIT_EXCEEDED"}, reason="daily API limit"),
        Rule(Outcome.CONFLICT, status={409, 412}, codes={"Request_EntityChanged"}),
    )
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crossdock.connectorkit.errors import (
    AmbiguousOutcomeError,
    AuthFailedError,
    ConflictError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectorkit.http import AmbiguousRequestError, HttpResponse, RequestNotSentError
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.resilience import header, parse_retry_after

CodeExtractor = Callable[[Any], tuple[str, ...]]
RetryAfterReader = Callable[[HttpResponse], float | None]


class Outcome(StrEnum):
    """What to do about a call's result."""

    OK = "ok"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    PERMANENT = "permanent"
    AUTH = "auth"
    CONFLICT = "conflict"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of an error table. Every criterion given must match.

    Attributes:
        outcome: What a match means.
        status: A status code, a collection of them, or a `range`.
        codes: Error-code patterns (``fnmatch``, case-sensitive); one code must match one.
        exception: Transport exception class(es) this rule matches (then no response exists).
        when: A predicate on the response, for what the other criteria cannot say.
        reason: The short reason an operator reads (defaults to the outcome and status).
        retry_after: Reads the wait from the response (defaults to the table's reader).
    """

    outcome: Outcome
    status: int | Collection[int] | None = None
    codes: Collection[str] | None = None
    exception: type[BaseException] | tuple[type[BaseException], ...] | None = None
    when: Callable[[HttpResponse], bool] | None = None
    reason: str = ""
    retry_after: RetryAfterReader | None = None

    def __post_init__(self) -> None:
        criteria = (self.status, self.codes, self.exception, self.when)
        if all(criterion is None for criterion in criteria):
            raise ValueError("a rule needs a status, codes, an exception or a predicate")

    def matches_response(self, response: HttpResponse, codes: tuple[str, ...]) -> bool:
        """Whether this rule matches `response` whose body carried `codes`."""
        if self.exception is not None:
            return False
        if self.status is not None:
            wanted = self.status
            if isinstance(wanted, int) and response.status != wanted:
                return False
            if not isinstance(wanted, int) and response.status not in wanted:
                return False
        if self.codes is not None and not any(
            fnmatch.fnmatchcase(code, pattern) for code in codes for pattern in self.codes
        ):
            return False
        return self.when is None or self.when(response)

    def matches_error(self, error: BaseException) -> bool:
        """Whether this rule matches the transport exception `error`."""
        return self.exception is not None and isinstance(error, self.exception)


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict on one call.

    Attributes:
        outcome: What to do.
        reason: Short and readable; never contains credentials.
        status: The HTTP status, or None when no response arrived.
        codes: Error codes read from the body.
        retry_after: Seconds the system asked to wait, if it said.
        detail: A bounded excerpt of the body, kept with the attempt.
    """

    outcome: Outcome
    reason: str
    status: int | None = None
    codes: tuple[str, ...] = ()
    retry_after: float | None = None
    detail: str = field(default="", repr=False)

    def to_exception(self) -> Exception:
        """Return the exception that carries this verdict to the worker."""
        match self.outcome:
            case Outcome.RETRY:
                return RetryLaterError(
                    self.reason, retry_after=self.retry_after, classification=self
                )
            case Outcome.RATE_LIMITED:
                return RateLimitedError(
                    self.reason, retry_after=self.retry_after, classification=self
                )
            case Outcome.CONFLICT:
                return ConflictError(self.reason, retry_after=self.retry_after, classification=self)
            case Outcome.AUTH:
                return AuthFailedError(self.reason, detail=self.detail, classification=self)
            case Outcome.AMBIGUOUS:
                return AmbiguousOutcomeError(self.reason, classification=self)
            case Outcome.PERMANENT:
                return PermanentFailureError(self.reason, detail=self.detail, classification=self)
        raise ValueError(f"{self.outcome} is not a failure")


def error_codes(body: Any) -> tuple[str, ...]:
    """Read error codes from the common error shapes of the systems we speak to.

    OAuth ``{"error": "invalid_grant"}``; OData ``{"error": {"code": ...}}`` (Business
    Central); Salesforce ``[{"errorCode": ...}]`` and collections' ``statusCode``; NetSuite
    ``{"o:errorDetails": [{"o:errorCode": ...}]}``; GraphQL ``errors[].extensions.code`` and
    ``data.<mutation>.userErrors[].code`` (Shopify); a top-level ``code`` or ``errorCode``.
    """
    codes: list[str] = []
    if isinstance(body, list):
        for item in body:
            if isinstance(item, Mapping):
                codes += _strings(item.get("errorCode"), item.get("statusCode"), item.get("code"))
                errors = item.get("errors")
                if isinstance(errors, list):
                    codes += error_codes(errors)
        return tuple(codes)
    if not isinstance(body, Mapping):
        return ()
    error = body.get("error")
    if isinstance(error, Mapping):
        codes += _strings(error.get("code"))
    else:
        codes += _strings(error)
    codes += _strings(body.get("code"), body.get("errorCode"))
    for detail in _dicts(body.get("o:errorDetails")):
        codes += _strings(detail.get("o:errorCode"))
    for item in _dicts(body.get("errors")):
        extensions = item.get("extensions")
        codes += _strings(item.get("code"))
        if isinstance(extensions, Mapping):
            codes += _strings(extensions.get("code"))
    data = body.get("data")
    if isinstance(data, Mapping):
        for payload in data.values():
            if isinstance(payload, Mapping):
                for user_error in _dicts(payload.get("userErrors")):
                    codes += _strings(user_error.get("code"))
    return tuple(codes)


def _strings(*values: object) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


class ErrorTable:
    """An ordered list of rules; the first match decides.

    Args:
        rules: The rules, most specific first.
        code_extractor: Reads error codes from a decoded body (default: `error_codes`).
        clock: For Retry-After given as an HTTP-date.
        detail_limit: Most characters of the body kept as `Classification.detail`.
    """

    def __init__(
        self,
        rules: Collection[Rule],
        *,
        code_extractor: CodeExtractor = error_codes,
        clock: Clock | None = None,
        detail_limit: int = 500,
    ) -> None:
        self.rules = tuple(rules)
        self.code_extractor = code_extractor
        self.clock: Clock = clock or SystemClock()
        self.detail_limit = detail_limit
        # Success bodies are only decoded when a rule could find codes in one (GraphQL).
        self._codes_on_success = any(
            rule.codes is not None and _may_match_success(rule.status) for rule in self.rules
        )

    def extend(self, *rules: Rule, code_extractor: CodeExtractor | None = None) -> ErrorTable:
        """Return a table whose `rules` come before this table's rules."""
        return ErrorTable(
            (*rules, *self.rules),
            code_extractor=code_extractor or self.code_extractor,
            clock=self.clock,
            detail_limit=self.detail_limit,
        )

    def retry_after(self, response: HttpResponse) -> float | None:
        """Read the requested wait: ``Retry-After`` (seconds or HTTP-date), then
        ``X-Rate-Limit-Reset`` or ``RateLimit-Reset`` (seconds)."""
        now = self.clock.now()
        found = parse_retry_after(header(response.headers, "Retry-After"), now)
        for name in ("X-Rate-Limit-Reset", "RateLimit-Reset"):
            if found is None:
                value = header(response.headers, name)
                found = parse_retry_after(value, now) if value and value.isdigit() else None
        return found

    def classify(self, response: HttpResponse) -> Classification:
        """Classify a response (a 2xx without an error rule is `Outcome.OK`)."""
        body = (
            response.json_or_none() if self._codes_on_success or not response.is_success else None
        )
        codes = self.code_extractor(body) if body is not None else ()
        detail = response.text[: self.detail_limit] if not response.is_success else ""
        for rule in self.rules:
            if rule.matches_response(response, codes):
                reader = rule.retry_after or self.retry_after
                wants_wait = rule.outcome in {Outcome.RATE_LIMITED, Outcome.RETRY}
                return Classification(
                    outcome=rule.outcome,
                    reason=rule.reason or _default_reason(rule.outcome, response.status, codes),
                    status=response.status,
                    codes=codes,
                    retry_after=reader(response) if wants_wait else None,
                    detail=detail,
                )
        if response.is_success:
            return Classification(Outcome.OK, "ok", status=response.status, codes=codes)
        return Classification(
            Outcome.PERMANENT,
            _default_reason(Outcome.PERMANENT, response.status, codes),
            status=response.status,
            codes=codes,
            detail=detail,
        )

    def classify_error(self, error: BaseException) -> Classification:
        """Classify a transport exception (no response arrived)."""
        for rule in self.rules:
            if rule.matches_error(error):
                return Classification(rule.outcome, rule.reason or f"{rule.outcome}: {error}")
        return Classification(Outcome.AMBIGUOUS, f"unclassified transport error: {error!r}")


def _may_match_success(status: int | Collection[int] | None) -> bool:
    if status is None:
        return True
    if isinstance(status, int):
        return 200 <= status < 300
    return any(200 <= code < 300 for code in status)


def _default_reason(outcome: Outcome, status: int, codes: tuple[str, ...]) -> str:
    code = f" {codes[0]}" if codes else ""
    return f"{outcome.value}: HTTP {status}{code}"


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(Outcome.RETRY, exception=RequestNotSentError, reason="request not sent"),
    Rule(Outcome.AMBIGUOUS, exception=AmbiguousRequestError, reason="no response after sending"),
    Rule(Outcome.RATE_LIMITED, status=429, reason="rate limited (429)"),
    Rule(Outcome.AUTH, status=401, reason="unauthorized (401)"),
    Rule(Outcome.CONFLICT, status={409, 412}, reason="conflict with the current state"),
    Rule(Outcome.RETRY, status=408, reason="request timeout (408)"),
    Rule(Outcome.AMBIGUOUS, status=504, reason="gateway timeout (504)"),
    Rule(Outcome.RETRY, status=range(500, 600), reason="server error"),
    Rule(Outcome.PERMANENT, status=403, reason="forbidden (403)"),
    Rule(Outcome.PERMANENT, status=404, reason="not found (404)"),
    Rule(Outcome.PERMANENT, status=range(400, 500), reason="rejected by the system"),
)

DEFAULT_ERROR_TABLE = ErrorTable(DEFAULT_RULES)
"""The default table: 429 rate-limited, 401 auth, 409/412 conflict, 408 and 5xx retry, 504 and
a timeout after sending ambiguous, other 4xx permanent, connect errors retry."""
