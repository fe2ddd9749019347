"""The Bayeux subset of Salesforce's streaming endpoint (``/cometd/62.0``), long polling only.

Meta channels: ``/meta/handshake``, ``/meta/subscribe`` (with the replay extension
``{"ext": {"replay": {"<channel>": <replayId | -1 | -2>}}}``, also accepted on the handshake),
``/meta/connect`` (held until events arrive or the poll timeout passes),
``/meta/unsubscribe`` and ``/meta/disconnect``. Data messages are
``{"channel", "data": {"schema", "payload", "event": {"replayId"}}}``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from crossdock.sandbox.salesforce._cdc import ALL_CHANGES, ChangeLog, ReplayIdInvalidError
from crossdock.sandbox.salesforce._schema import OBJECTS

MAX_BATCH = 100


@dataclass
class Client:
    """One handshaken client: its subscriptions and where each stands in the log."""

    client_id: str
    cursors: dict[str, int] = field(default_factory=dict)
    replay: dict[str, int] = field(default_factory=dict)


def channels() -> set[str]:
    """Every CDC channel the org has."""
    found = {f"/data/{spec.name}ChangeEvent" for spec in OBJECTS.values() if spec.cdc}
    return found | {ALL_CHANGES}


class Bayeux:
    """The streaming endpoint's state.

    Args:
        log: The change event log.
        seed: Seeds the client ids.
        poll_timeout_s: How long ``/meta/connect`` is held (Salesforce: 110 s).
    """

    def __init__(self, log: ChangeLog, seed: int, poll_timeout_s: float) -> None:
        self.log = log
        self.poll_timeout_s = poll_timeout_s
        self.clients: dict[str, Client] = {}
        self._random = random.Random(seed)
        self._message_ids = itertools.count(1)

    def advice(self) -> dict[str, Any]:
        """The advice sent with handshake and connect replies."""
        return {
            "interval": 0,
            "timeout": int(self.poll_timeout_s * 1000),
            "reconnect": "retry",
        }

    def denied(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The reply to a call without a valid session."""
        return [
            {
                "channel": message.get("channel"),
                "id": message.get("id"),
                "successful": False,
                "error": "403::Handshake denied"
                if message.get("channel") == "/meta/handshake"
                else "401::Authentication invalid",
                "ext": {"sfdc": {"failureReason": "401::Authentication invalid"}},
                "advice": {"reconnect": "none"},
            }
        ]

    async def handle(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer a batch of Bayeux messages (a connect last, as clients send it)."""
        replies: list[dict[str, Any]] = []
        for message in messages:
            channel = message.get("channel")
            if channel == "/meta/handshake":
                replies.append(self._handshake(message))
            elif channel == "/meta/subscribe":
                replies.append(self._subscribe(message))
            elif channel == "/meta/unsubscribe":
                replies.append(self._unsubscribe(message))
            elif channel == "/meta/connect":
                replies.extend(await self._connect(message))
            elif channel == "/meta/disconnect":
                self.clients.pop(str(message.get("clientId")), None)
                replies.append(_reply(message, successful=True))
            else:
                replies.append(
                    _reply(message, successful=False, error=f"400::Unknown channel {channel}")
                )
        return replies

    def _handshake(self, message: dict[str, Any]) -> dict[str, Any]:
        client_id = "".join(
            self._random.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(28)
        )
        client = Client(client_id)
        replay = (message.get("ext") or {}).get("replay")
        if isinstance(replay, dict):
            client.replay.update({str(k): v for k, v in replay.items() if isinstance(v, int)})
        self.clients[client_id] = client
        return {
            "channel": "/meta/handshake",
            "id": message.get("id"),
            "version": "1.0",
            "minimumVersion": "1.0",
            "clientId": client_id,
            "supportedConnectionTypes": ["long-polling"],
            "successful": True,
            "advice": self.advice(),
            "ext": {"replay": True, "payload.format": True},
        }

    def _client(self, message: dict[str, Any]) -> Client | None:
        return self.clients.get(str(message.get("clientId")))

    def _subscribe(self, message: dict[str, Any]) -> dict[str, Any]:
        client = self._client(message)
        subscription = str(message.get("subscription", ""))
        if client is None:
            return _unknown_client(message)
        if subscription not in channels():
            return _reply(
                message,
                successful=False,
                subscription=subscription,
                error=f"403::Unknown channel {subscription}",
            )
        replay = (message.get("ext") or {}).get("replay")
        if isinstance(replay, dict):
            client.replay.update({str(k): v for k, v in replay.items() if isinstance(v, int)})
        wanted = client.replay.get(subscription, -1)
        try:
            self.log.check_replay(wanted)
        except ReplayIdInvalidError:
            return _reply(
                message,
                successful=False,
                subscription=subscription,
                error=(
                    f"400::The replayId {{{wanted}}} you provided was invalid.  Please provide a "
                    "valid ID, -2 to replay all events, or -1 to replay only new events."
                ),
            )
        if wanted == -1:
            cursor = self.log.latest
        elif wanted == -2:
            cursor = -1
        else:
            cursor = wanted
        client.cursors[subscription] = cursor
        return _reply(message, successful=True, subscription=subscription)

    def _unsubscribe(self, message: dict[str, Any]) -> dict[str, Any]:
        client = self._client(message)
        if client is None:
            return _unknown_client(message)
        subscription = str(message.get("subscription", ""))
        client.cursors.pop(subscription, None)
        return _reply(message, successful=True, subscription=subscription)

    def _pending(self, client: Client) -> list[dict[str, Any]]:
        out: list[tuple[int, dict[str, Any]]] = []
        for channel, cursor in client.cursors.items():
            for event in self.log.after(channel, cursor, MAX_BATCH):
                out.append((event.replay_id, {"channel": channel, "data": event.message}))
                client.cursors[channel] = event.replay_id
        out.sort(key=lambda pair: pair[0])
        return [message for _, message in out]

    async def _connect(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        client = self._client(message)
        if client is None:
            return [_unknown_client(message)]
        generation = self.log.generation
        events = self._pending(client)
        if not events and client.cursors:
            timeout = self.poll_timeout_s
            advice = message.get("advice")
            if isinstance(advice, dict) and isinstance(advice.get("timeout"), int):
                timeout = min(timeout, advice["timeout"] / 1000)
            await self.log.wait(generation, timeout)
            if client.client_id not in self.clients:
                return [_unknown_client(message)]
            events = self._pending(client)
        reply = _reply(message, successful=True)
        reply["advice"] = self.advice()
        return [*events, reply]


def _reply(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"channel": message.get("channel"), "id": message.get("id")}
    if message.get("clientId") is not None:
        out["clientId"] = message.get("clientId")
    out.update(fields)
    return out


def _unknown_client(message: dict[str, Any]) -> dict[str, Any]:
    reply = _reply(message, successful=False, error="403::Unknown client")
    reply["advice"] = {"reconnect": "handshake", "interval": 0}
    return reply
