"""Where the CDC subscriber keeps its replay ids: the `ReplayStore` port and two implementations.

`commit` stores a channel's new replay id together with the canonical events decoded up to it,
atomically, so that a restart resumes exactly after the last event the hub kept: nothing is
lost and nothing is decoded twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from crossdock.backbone.store import Store
from crossdock.canonical.envelope import Event

__all__ = ["BackboneReplayStore", "InMemoryReplayStore", "ReplayId", "ReplayStore"]

ReplayId = Any
"""A replay id as the server sent it (opaque: an integer over CometD, bytes over Pub/Sub)."""


@runtime_checkable
class ReplayStore(Protocol):
    """The subscriber's durable position per channel."""

    async def load(self, channel: str) -> ReplayId | None:
        """The last replay id committed for ``channel`` (None: never subscribed)."""
        ...

    async def commit(self, channel: str, replay_id: ReplayId, events: Sequence[Event]) -> None:
        """Keep ``events`` and move ``channel`` to ``replay_id``, together or not at all."""
        ...


class InMemoryReplayStore:
    """Replay ids and committed events in memory (tests, one process).

    Attributes:
        positions: The replay id per channel.
        events: Every committed event, in commit order.
    """

    def __init__(self) -> None:
        self.positions: dict[str, ReplayId] = {}
        self.events: list[Event] = []

    async def load(self, channel: str) -> ReplayId | None:
        """The channel's replay id, if any."""
        return self.positions.get(channel)

    async def commit(self, channel: str, replay_id: ReplayId, events: Sequence[Event]) -> None:
        """Append ``events`` and move the channel."""
        self.events.extend(events)
        self.positions[channel] = replay_id


class BackboneReplayStore:
    """Replay ids in the backbone's flow state; events appended in the same transaction.

    Each channel is one flow-state row (flow ``salesforce.cdc``, key ``<name>:<channel>``)
    holding ``{"replay_id": ...}``. Its optimistic version makes two commits of the same
    channel racing each other fail one (`StaleFlowState`, the whole transaction rolled back,
    its events included); run one subscriber per channel and org all the same.

    Args:
        store: The backbone store.
        name: Distinguishes orgs or subscribers sharing a store (default ``salesforce``).
        flow: The flow-state namespace.
    """

    def __init__(self, store: Store, *, name: str = "salesforce", flow: str = "salesforce.cdc"):
        self.store = store
        self.name = name
        self.flow = flow

    def _key(self, channel: str) -> str:
        return f"{self.name}:{channel}"

    async def load(self, channel: str) -> ReplayId | None:
        """The committed replay id of ``channel``."""
        state = await self.store.get_flow_state(self.flow, self._key(channel))
        return None if state is None else state.state.get("replay_id")

    async def commit(self, channel: str, replay_id: ReplayId, events: Sequence[Event]) -> None:
        """Append ``events`` and save the replay id in one backbone transaction."""
        async with self.store.transaction() as tx:
            current = await tx.get_flow_state(self.flow, self._key(channel))
            if events:
                await tx.append_events(*events)
            await tx.save_flow_state(
                self.flow,
                self._key(channel),
                {"replay_id": replay_id},
                expected_version=current.version if current is not None else 0,
            )
