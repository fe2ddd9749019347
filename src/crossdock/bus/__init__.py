"""The event bus: canonical events published for subscribers outside the hub and between nodes.

The event log in the store stays the source of truth; the bus is a copy of it for fan-out.
`EventRelay` publishes the log to a bus in log order from a checkpoint kept in the store, at
least once; each message carries the event id as its message id, so the bus drops a
republished event inside its duplicate window (and a consumer that sees one later dedupes by
the same id).

Two implementations of the `EventBus` port pass one contract suite (tests/contract/bus):
`InMemoryBus` (one process, tests and the embedded default) and `JetStreamBus` (NATS
JetStream: a stream over ``<prefix>.>``, ``Nats-Msg-Id`` deduplication, durable pull
consumers).
"""

from crossdock.bus.memory import InMemoryBus
from crossdock.bus.port import (
    DEFAULT_PREFIX,
    BusMessage,
    BusUnavailable,
    EventBus,
    PublishAck,
    subject_for,
    subject_matches,
)
from crossdock.bus.relay import RELAY_FLOW, EventRelay

__all__ = [
    "DEFAULT_PREFIX",
    "RELAY_FLOW",
    "BusMessage",
    "BusUnavailable",
    "EventBus",
    "EventRelay",
    "InMemoryBus",
    "PublishAck",
    "subject_for",
    "subject_matches",
]
