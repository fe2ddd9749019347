"""`JetStreamBus`: the `EventBus` port on NATS JetStream.

One stream (default ``CROSSDOCK_EVENTS``) holds ``<prefix>.>``; each publication carries the
event id in ``Nats-Msg-Id``, so the server drops a republished event inside the stream's
duplicate window. Consumers are durable pull consumers with explicit acks. Needs the ``nats``
extra (nats-py).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from crossdock.bus.port import DEFAULT_PREFIX, BusMessage, BusUnavailable, PublishAck, subject_for
from crossdock.canonical.envelope import Event

__all__ = ["DEFAULT_STREAM", "JetStreamBus"]

DEFAULT_STREAM = "CROSSDOCK_EVENTS"


class JetStreamBus:
    """An event bus on a NATS JetStream stream.

    Use `connect` to build one.

    Args:
        client: A connected NATS client.
        stream: The stream's name.
        prefix: The subject prefix (the stream holds ``<prefix>.>``).
        ack_wait: Seconds after which an unacked message is delivered again.
    """

    def __init__(self, client: Client, *, stream: str, prefix: str, ack_wait: float) -> None:
        self._nc = client
        self._js: JetStreamContext = client.jetstream()
        self.stream = stream
        self.prefix = prefix
        self.ack_wait = ack_wait
        self._subscriptions: dict[str, JetStreamContext.PullSubscription] = {}

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        prefix: str = DEFAULT_PREFIX,
        duplicate_window: float = 120.0,
        max_age: float = 7 * 24 * 3600.0,
        ack_wait: float = 30.0,
        connect_timeout: float = 2.0,
    ) -> JetStreamBus:
        """Connect to `url` and make sure the stream exists with these settings.

        The stream keeps messages `max_age` seconds (the event log in the store is the record;
        the bus is for fan-out, not an archive).

        Raises:
            BusUnavailable: The server cannot be reached or has no JetStream.
        """
        try:
            client = await nats.connect(
                url,
                connect_timeout=connect_timeout,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
            )
        except (OSError, NatsError) as exc:
            raise BusUnavailable(f"NATS at {url}: {exc!r}") from exc
        bus = cls(client, stream=stream, prefix=prefix, ack_wait=ack_wait)
        config = StreamConfig(
            name=stream,
            subjects=[f"{prefix}.>"],
            duplicate_window=duplicate_window,
            max_age=max_age,
        )
        try:
            try:
                await bus._js.add_stream(config)
            except BadRequestError:  # exists with other settings: take ours
                await bus._js.update_stream(config)
        except NatsError as exc:
            await client.close()
            raise BusUnavailable(f"JetStream stream {stream} on {url}: {exc!r}") from exc
        return bus

    async def publish(self, event: Event) -> PublishAck:
        """Publish `event` with ``Nats-Msg-Id`` = its id."""
        payload = event.model_dump_json().encode()
        try:
            ack = await self._js.publish(
                subject_for(event, self.prefix),
                payload,
                stream=self.stream,
                headers={"Nats-Msg-Id": event.id},
            )
        except NatsError as exc:
            raise BusUnavailable(f"publish of {event.id} to {self.stream}: {exc!r}") from exc
        return PublishAck(int(ack.seq), duplicate=bool(ack.duplicate))

    async def pull(
        self,
        consumer: str,
        *,
        filter_subject: str | None = None,
        batch: int = 100,
        wait_seconds: float = 1.0,
    ) -> list[BusMessage]:
        """Fetch up to `batch` messages for the durable `consumer`."""
        try:
            subscription = await self._subscription(consumer, filter_subject)
            messages = await subscription.fetch(batch, timeout=max(wait_seconds, 0.001))
        except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing came in time
            return []
        except NatsError as exc:
            raise BusUnavailable(f"pull for {consumer} from {self.stream}: {exc!r}") from exc
        return [_message(msg) for msg in messages]

    async def _subscription(
        self, consumer: str, filter_subject: str | None
    ) -> JetStreamContext.PullSubscription:
        found = self._subscriptions.get(consumer)
        if found is not None:
            return found
        subject = filter_subject or f"{self.prefix}.>"
        config = ConsumerConfig(
            durable_name=consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            filter_subject=subject,
        )
        try:
            await self._js.consumer_info(self.stream, consumer)
        except NotFoundError:
            await self._js.add_consumer(self.stream, config)
        subscription = await self._js.pull_subscribe_bind(consumer, stream=self.stream)
        self._subscriptions[consumer] = subscription
        return subscription

    async def delete_stream(self) -> None:
        """Delete the stream and everything in it (tests; an operator's reset)."""
        self._subscriptions.clear()
        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self.stream)

    async def close(self) -> None:
        """Drain and close the connection."""
        self._subscriptions.clear()
        if not self._nc.is_closed:
            await self._nc.close()


def _message(msg: Msg) -> BusMessage:
    data: Any = json.loads(msg.data)
    meta = msg.metadata

    async def ack() -> None:
        await msg.ack()

    async def nak(delay: float) -> None:
        await msg.nak(delay=delay if delay > 0 else None)

    return BusMessage(
        Event.model_validate(data),
        msg.subject,
        int(meta.sequence.stream),
        int(meta.num_delivered),
        ack,
        nak,
    )
