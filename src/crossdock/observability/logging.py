"""Structured logging: JSON lines in production, a correlation id on every line, no secret ever.

Call `configure_logging()` once at start. Inside a unit of work (one inbox delivery, one command,
one flow step) wrap the code in `bind_unit_of_work(correlation_id=...)`: every line logged inside,
from any module and any task started inside, carries the correlation id and the other ids given.

Secrets are kept out of the output by `redact_secrets`, a processor that runs last before
rendering: values under keys that look like secrets (token, password, authorization, api key,
signature, ...) are replaced, and any value registered with `register_secret` is scrubbed from
every string, including rendered tracebacks.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
import structlog.tracebacks
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "REDACTED",
    "SecretRegistry",
    "bind_unit_of_work",
    "configure_logging",
    "get_logger",
    "redact_secrets",
    "register_secret",
    "secret_registry",
]

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(secret|token|passw(or)?d|pwd|authori[sz]ation|api[_-]?key|apikey|signature|cookie"
    r"|credential|private[_-]?key|session[_-]?id)",
    re.IGNORECASE,
)
# Keys that match the pattern above but hold no secret.
_NOT_SECRET_KEYS = frozenset({"fencing_token", "token_count", "tokens_available"})
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# Secrets shorter than this are not scrubbed from free text: they would eat ordinary words.
_MIN_SECRET_LENGTH = 6


class SecretRegistry:
    """The set of secret values that must never appear in a log line.

    Connectors register the credentials they load (API keys, client secrets, HMAC keys) so a
    secret that slips into an error message or a URL is still scrubbed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str | bytes) -> None:
        """Register one secret value (short values are ignored for free-text scrubbing)."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if len(text) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            values = self._values | {text}
            # Longest first, so a secret that contains another is replaced whole.
            alternatives = sorted(values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
            self._values = values

    def clear(self) -> None:
        """Forget every registered value (tests)."""
        with self._lock:
            self._values = frozenset()
            self._pattern = None

    def scrub(self, text: str) -> str:
        """Return `text` with every registered secret and bearer credential replaced."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


secret_registry = SecretRegistry()


def register_secret(value: str | bytes) -> None:
    """Register a secret value with the process-wide registry used by `redact_secrets`."""
    secret_registry.add(value)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key not in _NOT_SECRET_KEYS and bool(_SECRET_KEY.search(key))


def _redact(value: object, registry: SecretRegistry) -> object:
    if isinstance(value, str):
        return registry.scrub(value)
    if isinstance(value, bytes):
        return registry.scrub(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _is_secret_key(k) else _redact(v, registry) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v, registry) for v in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: replace secret-looking keys and registered secret values everywhere."""
    return {
        key: REDACTED if _is_secret_key(key) else _redact(value, secret_registry)
        for key, value in event_dict.items()
    }


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(
    *,
    level: int | str = logging.INFO,
    json: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for the process.

    Args:
        level: the lowest level written, as a `logging` number or name.
        json: JSON lines when true, a console renderer when false; by default JSON unless the
            stream is a terminal.
        stream: where lines go; standard error by default.
    """
    out = stream if stream is not None else sys.stderr
    as_json = json if json is not None else not out.isatty()
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    renderer: Processor
    if as_json:
        # No locals in tracebacks: they are where credentials hide.
        transformer = structlog.tracebacks.ExceptionDictTransformer(
            show_locals=False, use_rich=False, max_frames=20
        )
        exception_processors: list[Processor] = [
            structlog.processors.ExceptionRenderer(transformer)
        ]
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        exception_processors = [structlog.processors.format_exc_info]
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            *_shared_processors(),
            *exception_processors,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None, **initial: Any) -> structlog.typing.FilteringBoundLogger:
    """Return a bound logger, with `logger=name` on every line when a name is given."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(**initial)
    return logger.bind(logger=name) if name else logger


@contextmanager
def bind_unit_of_work(*, correlation_id: str, **ids: object) -> Iterator[None]:
    """Bind a correlation id (and other ids) to every log line of the enclosed unit of work.

    The binding lives in context variables, so it follows `await`s and the tasks created
    inside, and is restored to the previous binding on exit (units of work can nest).

    Args:
        correlation_id: the id that ties every line of one business transaction together.
        **ids: further ids to bind, such as `command_id` or `destination`; None values are
            left out.
    """
    bound = {k: v for k, v in ids.items() if v is not None}
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id, **bound):
        yield
