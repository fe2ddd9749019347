"""The EDI 3PL in the hub: the mailbox poller, and the factory the registry calls.

`EdiPoller` polls one EDI system's mailbox on an interval (`EdiConnector.poll`). Each new
inbound set is recorded in the inbox (source: the system's name; dedupe key: the set's
``<ISA06>:<ISA13>:<GS06>:<ST02>``; body: the set alone as X12) before its file is marked
processed and archived, so a crash never loses a set and a set seen again is a duplicate; the
`DecodeWorker` then turns the row into canonical events with the system's connector. Every
`EdiFailure` (a 997 rejection, a malformed file, an unmatched 997, an unmappable set) and every
overdue 997 is enqueued as an ``edi.resend`` command that is refused at once with the reason, so
it shows in the dead-letter list; replaying it resends the set (see
`crossdock.connectors.edi.hub_adapter`).

`edi_inbound` builds a system of kind ``edi`` from its ``[systems.<name>]`` table:

- ``base_url``: ``file:///path/to/mailbox`` (a drop folder) or ``sftp://host[:port]/root``.
- credentials (SFTP): ``username`` (else ``settings.username`` or the URL's user) and
  ``private_key`` (OpenSSH private key text); ``settings.known_host`` (the server's OpenSSH
  public host key) pins the server (else ``~/.ssh/known_hosts``).
- settings: ``sender_qualifier``/``sender_id`` (us), ``receiver_qualifier``/``receiver_id``
  (the 3PL), ``usage`` (ISA15), ``location`` (the 3PL's hub location code, default: the system
  name), ``state_dir`` (where the control numbers and the ledger are kept, default
  ``.crossdock/edi/<name>``), ``poll_interval_s`` (default 30), ``ack_overdue_s`` (default
  14400; 0 turns the check off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import Enqueued, Store, StoreError
from crossdock.canonical.ids import new_id
from crossdock.connectors.edi import (
    DropFolderTransport,
    EdiConnector,
    EdiFailure,
    EdiPartner,
    EdiTransport,
    FailureKind,
    InboundSet,
    JsonControlNumbers,
    JsonEdiLedger,
    PollResult,
)
from crossdock.connectors.edi.hub_adapter import (
    EdiHubConnector,
    failure_command,
    failure_key,
    set_delivery,
)
from crossdock.connectors.edi.x12 import Party
from crossdock.hub.inbound import ConnectorInbound
from crossdock.hub.registry import HubConfigError, InboundBuild
from crossdock.observability.logging import get_logger

__all__ = ["EdiPollReport", "EdiPoller", "edi_inbound", "edi_pollers"]

DEFAULT_POLL_INTERVAL_S = 30.0
DEFAULT_ACK_OVERDUE_S = 4 * 3600.0


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.hub.edi")


@dataclass(frozen=True, slots=True)
class EdiPollReport:
    """What one poll did.

    Attributes:
        result: The connector's account of the poll.
        recorded: Inbox rows this poll created.
        inbox_duplicates: Sets the inbox already held (a resend, or a poll after a crash).
        failures: Every failure reported, overdue acks included.
        dead_letters: Commands enqueued for new failures (an already recorded one is not).
    """

    result: PollResult
    recorded: int = 0
    inbox_duplicates: int = 0
    failures: tuple[EdiFailure, ...] = ()
    dead_letters: tuple[int, ...] = field(default=())


class EdiPoller:
    """Polls one EDI system's mailbox into the hub's inbox and dead-letter list.

    Args:
        store: The hub's store.
        system: The system's name (inbox source and command destination).
        edi: The system's EDI connector.
        interval_seconds: Time between polls.
        ack_overdue: Report sent groups without a 997 after this long (None: never).
        on_recorded: Called after a poll recorded new inbox rows (wakes the decode worker).
    """

    def __init__(
        self,
        store: Store,
        system: str,
        edi: EdiConnector,
        *,
        interval_seconds: float = DEFAULT_POLL_INTERVAL_S,
        ack_overdue: timedelta | None = timedelta(seconds=DEFAULT_ACK_OVERDUE_S),
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.system = system
        self.edi = edi
        self.interval_seconds = interval_seconds
        self.ack_overdue = ack_overdue
        self.on_recorded = on_recorded
        self._stop = asyncio.Event()
        self._files: dict[str, bytes] = {}
        self._recorded = 0
        self._duplicates = 0
        self._swept = False

    def request_stop(self) -> None:
        """End `run` after the poll in progress."""
        self._stop.set()

    async def run(self) -> None:
        """Poll until `request_stop`; an unreachable mailbox or store is logged and waited out."""
        while not self._stop.is_set():
            try:
                await self.poll_once()
            except (OSError, StoreError) as exc:
                _log().warning("edi poll failed; retrying", system=self.system, error=str(exc))
            except Exception:  # a bug must not end polling for good
                _log().exception("edi poll failed; retrying", system=self.system)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_seconds)

    async def poll_once(self) -> EdiPollReport:
        """Poll the mailbox once; record new sets and failures in the store.

        Raises:
            StoreUnavailable: A set could not be recorded; its file stays in the mailbox and is
                read again at the next poll (the sets recorded before it are duplicates then).
            OSError: The mailbox cannot be read.
        """
        recovered = [] if self._swept else await self.lost_rejections()
        self._swept = True
        self._files.clear()
        self._recorded = self._duplicates = 0
        try:
            result = await self.edi.poll(self._record)
        finally:
            self._files.clear()
        failures = [*recovered, *result.failures]
        if self.ack_overdue is not None:
            failures += self.edi.overdue_acks(self.ack_overdue)
        dead = await self.record_failures(failures)
        if self._recorded and self.on_recorded is not None:
            self.on_recorded()
        return EdiPollReport(result, self._recorded, self._duplicates, tuple(failures), tuple(dead))

    async def lost_rejections(self) -> list[EdiFailure]:
        """Rejected groups in the ledger whose dead letter was never enqueued.

        A process that dies after a poll archived a 997 but before it enqueued the rejections
        would lose them; the first poll of the next process finds them again here, one
        whole-group failure per rejected group without any recorded failure.
        """
        found = []
        for record in self.edi.ledger.sent():
            if record.status != "rejected":
                continue
            group = f"{record.group.functional_id}:{record.group.control_number}"
            keys = [f"{group}:"] + [f"{group}:{control}" for _, control in record.group.sets]
            kind = FailureKind.REJECTED_BY_PARTNER
            probes = [EdiFailure(kind, "", key, record.file_name) for key in keys]
            known = [await self.store.find_command(failure_key(self.system, p)) for p in probes]
            if any(k is not None for k in known):
                continue
            numbers = ", ".join(n for _, n in record.orders if n)
            reason = (
                f"997 rejected {group.replace(':', ' group ')} sent in {record.file_name} "
                "(found in the EDI ledger after a restart; the 997's reasons were not kept)"
            )
            found.append(EdiFailure(kind, reason, f"{group}:", record.file_name, numbers))
        return found

    async def record_failures(self, failures: list[EdiFailure]) -> list[int]:
        """Enqueue one ``edi.resend`` per failure not recorded before; return the new ids."""
        if not failures:
            return []
        commands = [failure_command(self.system, f, correlation_id=new_id()) for f in failures]
        enqueued: list[Enqueued] = await self.store.enqueue(*commands)
        created = []
        for failure, done in zip(failures, enqueued, strict=True):
            if done.created:
                created.append(done.command_id)
                _log().warning(
                    "edi failure recorded",
                    system=self.system,
                    kind=failure.kind.value,
                    reason=failure.reason,
                    replay_key=failure.replay_key,
                    file=failure.file_name,
                    order_number=failure.order_number,
                    command_id=done.command_id,
                )
        return created

    async def _record(self, item: InboundSet) -> None:
        data = self._files.get(item.file_name)
        if data is None:
            data = await self.edi.transport.read(item.file_name)
            self._files[item.file_name] = data
        delivery = set_delivery(self.system, data, item, correlation_id=new_id())
        recorded = await self.store.record_delivery(delivery)
        if recorded.new:
            self._recorded += 1
        else:
            self._duplicates += 1


# ---- building from the governance file ---------------------------------------------------


def _setting(settings: Mapping[str, Any], name: str, default: str = "") -> str:
    value = settings.get(name, default)
    return str(value) if value is not None else default


def _number(settings: Mapping[str, Any], name: str, default: float, problems: list[str]) -> float:
    raw = settings.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        problems.append(f"settings.{name}: not a number ({raw!r})")
        return default
    if value < 0:
        problems.append(f"settings.{name}: must not be negative")
    return value


def _transport(build: InboundBuild, problems: list[str]) -> EdiTransport | None:
    url = urlsplit(build.config.base_url)
    if url.scheme == "file":
        return DropFolderTransport(Path(unquote(url.path)))
    if url.scheme == "sftp":
        return _sftp(build, url.hostname or "", url.port or 22, url.username, url.path)
    problems.append(f"base_url: EDI needs file:// or sftp://, not {url.scheme}://")
    return None


def _sftp(build: InboundBuild, host: str, port: int, user: str | None, path: str) -> EdiTransport:
    from crossdock.connectors.edi.transport.sftp import SftpSettings, SftpTransport

    settings = build.config.settings
    username = (
        build.secret("username").reveal()
        if "username" in build.config.credentials
        else _setting(settings, "username", user or "")
    )
    keys: list[Any] = []
    key = build.optional_secret("private_key")
    if key is not None:
        import asyncssh

        keys.append(asyncssh.import_private_key(key.reveal()))
    host_keys: list[Any] = []
    if _setting(settings, "known_host"):
        import asyncssh

        host_keys.append(asyncssh.import_public_key(_setting(settings, "known_host")))
    sftp = SftpSettings(
        host=host,
        port=port,
        username=username,
        client_keys=keys,
        host_keys=host_keys,
        root=unquote(path).lstrip("/"),
    )
    return _LazySftp(SftpTransport(sftp))


class _LazySftp:
    """An SFTP transport that connects on first use, and again after a failed operation."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def _do(self, operation: str, *args: Any) -> Any:
        await self._inner.connect()
        try:
            return await getattr(self._inner, operation)(*args)
        except Exception:
            # The session may be dead (network, server restart): the next call reconnects.
            with contextlib.suppress(Exception):
                await self._inner.close()
            raise

    async def list_inbound(self) -> list[str]:
        return list(await self._do("list_inbound"))

    async def read(self, name: str) -> bytes:
        return bytes(await self._do("read", name))

    async def put_outbound(self, name: str, data: bytes) -> None:
        await self._do("put_outbound", name, data)

    async def archive(self, name: str) -> str:
        return str(await self._do("archive", name))

    async def quarantine(self, name: str, reason: str) -> str:
        return str(await self._do("quarantine", name, reason))

    async def close(self) -> None:
        await self._inner.close()


def edi_inbound(build: InboundBuild) -> ConnectorInbound:
    """Build an EDI system's connector (the registry's factory for kind ``edi``).

    Raises:
        HubConfigError: A setting or credential is missing or wrong; every problem is listed.
    """
    settings = build.config.settings
    problems: list[str] = []
    for name in ("sender_id", "receiver_id"):
        if not _setting(settings, name):
            problems.append(f"settings.{name}: missing (the ISA/GS identity)")
    interval = _number(settings, "poll_interval_s", DEFAULT_POLL_INTERVAL_S, problems)
    overdue = _number(settings, "ack_overdue_s", DEFAULT_ACK_OVERDUE_S, problems)
    transport = _transport(build, problems)
    if problems or transport is None:
        raise HubConfigError([f"systems.{build.name}.{p}" for p in problems])
    us = Party(_setting(settings, "sender_qualifier", "ZZ"), _setting(settings, "sender_id"))
    them = Party(_setting(settings, "receiver_qualifier", "ZZ"), _setting(settings, "receiver_id"))
    partner = EdiPartner(
        us=us,
        partner=them,
        location=_setting(settings, "location", build.name),
        source=build.name,
        usage=_setting(settings, "usage", "P"),
    )
    state = Path(_setting(settings, "state_dir", str(Path(".crossdock") / "edi" / build.name)))
    edi = EdiConnector(
        transport,
        partner=partner,
        counters=JsonControlNumbers(state / "control-numbers.json"),
        ledger=JsonEdiLedger(state / "ledger.json"),
    )
    connector = EdiHubConnector(
        http=build.http,
        edi=edi,
        destination=build.name,
        poll_interval_s=max(interval, 0.05),
        ack_overdue=timedelta(seconds=overdue) if overdue > 0 else None,
    )
    return ConnectorInbound(
        name=build.name,
        connector=connector,
        dedupe=lambda headers, _body: headers.get("x-edi-set-key"),
    )


def edi_pollers(
    store: Store,
    systems: Mapping[str, ConnectorInbound],
    *,
    on_recorded: Callable[[], None] | None = None,
) -> list[EdiPoller]:
    """One poller per EDI system among ``systems`` (as `edi_inbound` built them)."""
    pollers = []
    for name, inbound in systems.items():
        connector = inbound.connector
        if not isinstance(connector, EdiHubConnector):
            continue
        pollers.append(
            EdiPoller(
                store,
                name,
                connector.edi,
                interval_seconds=connector.poll_interval_s,
                ack_overdue=connector.ack_overdue,
                on_recorded=on_recorded,
            )
        )
    return pollers
