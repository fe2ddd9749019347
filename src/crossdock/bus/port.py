"""The `EventBus` port: publish canonical events, pull them through durable consumers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from crossdock.canonical.envelope import Event

__all__ = [
    "DEFAULT_PREFIX",
    "BusMessage",
    "BusUnavailable",
    "EventBus",
    "PublishAck",
    "subject_for",
    "subject_matches",
]

DEFAULT_PREFIX: Final = "crossdock.events"
"""Events are published on ``<prefix>.<event type>`` (``crossdock.events.order.placed``)."""


class BusUnavailable(Exception):  # noqa: N818 - says what the caller must know
    """The bus cannot take or give messages now (try again later)."""


def subject_for(event: Event, prefix: str = DEFAULT_PREFIX) -> str:
    """Return the subject an event is published on."""
    return f"{prefix}.{event.type}"


def subject_matches(pattern: str, subject: str) -> bool:
    """True when `subject` matches a NATS-style `pattern` (``*`` one token, ``>`` the rest)."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part not in ("*", tokens[i])):
            return False
    return len(tokens) == len(wanted)


@dataclass(frozen=True, slots=True)
class PublishAck:
    """The bus's answer to a publication.

    Attributes:
        sequence: The message's position in the bus (the original's when a duplicate).
        duplicate: True when the bus already had a message with this event id (nothing added).
    """

    sequence: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One message pulled from a consumer; ack it once handled, or it comes again.

    Attributes:
        event: The canonical event it carries.
        subject: The subject it was published on.
        sequence: Its position in the bus.
        deliveries: How many times it has been delivered to this consumer (1 the first time).
    """

    event: Event
    subject: str
    sequence: int
    deliveries: int
    _ack: Callable[[], Awaitable[None]]
    _nak: Callable[[float], Awaitable[None]]

    async def ack(self) -> None:
        """Tell the bus the message is handled: it is not delivered to this consumer again."""
        await self._ack()

    async def nak(self, delay: float = 0.0) -> None:
        """Give the message back: it is delivered again after `delay` seconds."""
        await self._nak(delay)


class EventBus(Protocol):
    """Where canonical events are published and pulled.

    Guarantees every implementation keeps (the contract suite checks them):
    - a publication with an event id the bus has seen inside its duplicate window adds nothing
      and answers ``duplicate=True`` with the original's sequence;
    - a durable consumer gets every message of its filter in publication order, each until it
      is acked (an unacked one is delivered again after the consumer's ack wait, or at once
      after a nak); consumers are independent of each other; a consumer created later starts
      at the first message still in the bus.

    Attributes:
        prefix: The subject prefix events are published under.
    """

    prefix: str

    async def publish(self, event: Event) -> PublishAck:
        """Publish `event` on its subject, deduplicated by its id.

        Raises:
            BusUnavailable: The bus cannot take it now.
        """
        ...

    async def pull(
        self,
        consumer: str,
        *,
        filter_subject: str | None = None,
        batch: int = 100,
        wait_seconds: float = 1.0,
    ) -> list[BusMessage]:
        """Return up to `batch` messages for the durable `consumer`, waiting up to `wait_seconds`.

        `filter_subject` (a NATS pattern) is fixed when the consumer is first used; None means
        every event. An empty list when nothing came in time.

        Raises:
            BusUnavailable: The bus cannot answer now.
        """
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...
