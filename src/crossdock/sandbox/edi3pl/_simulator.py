"""The 3PL simulator: reads 940s, answers with 997s, picks and ships with 945s, advises 846s."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
import string
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import asyncssh
from fastapi import APIRouter, FastAPI
from starlette.responses import Response

from crossdock.connectors.edi.transport import DropFolderTransport, EdiTransport, MailboxLayout
from crossdock.connectors.edi.x12 import (
    Finding,
    InMemoryControlNumbers,
    Interchange,
    Party,
    SetBody,
    X12EnvelopeError,
    acknowledge,
    build_interchange,
    read_x12,
    validate_set,
    write_x12,
)
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.sandbox.edi3pl._documents import (
    SCHEMA_940,
    PickedLine,
    Release,
    build_846,
    build_945,
    read_release,
)
from crossdock.sandbox.edi3pl._sftp import RunningSftp, serve_sftp
from crossdock.sandbox.edi3pl._state import OUTCOMES, OrderRecord, ShipmentSent
from crossdock.sandbox.kit import Scenario, Simulator, json_response

DEFAULT_DATA: dict[str, Any] = {
    "us": {"qualifier": "ZZ", "id": "ACME3PL"},
    "warehouse": "ACME RENO",
    "stock": {"TSHIRT-BLK-M": 40, "MUG-WHT": 25, "CAP-RED": 10},
    "outcomes": {"full": 6, "partial": 2, "short": 2},
    "forced_outcomes": {},
    "carriers": [["UPSN", "UPS GROUND"], ["FDEG", "FEDEX GROUND"]],
    "poll_interval_s": 5,
    "pick_delay_s": 600,
    "advice_interval_s": 3600,
    "time_scale": 1.0,
    "depositor": {"qualifier": "ZZ", "id": "CROSSDOCK"},
    "mailbox": None,
}
"""The default warehouse; every key may be overridden by a scenario's ``data``."""
MIN_POLL_S = 0.005
"""The loop never spins faster than this, whatever the time scale."""


def default_scenario() -> Scenario:
    """A warehouse with three SKUs and mostly complete shipments."""
    return Scenario(seed=7, data=copy.deepcopy(DEFAULT_DATA), name="edi3pl-default")


class Edi3plSimulator(Simulator):
    """A 3PL trading partner over a mailbox.

    The 3PL reads 940s from its inbound directory (our outbound), answers each functional
    group with a 997 (``AK5*R``/``AK9*R`` for a set its 940 schema rejects), picks each order
    after ``pick_delay_s`` and ships it with 945s: complete, partial (two shipments) or short
    (``W12`` shipped < ordered), chosen per order under the seed or forced per order number.
    Stock goes down as it ships; an 846 advises it every ``advice_interval_s``. Delays are in
    simulated seconds, multiplied by ``time_scale`` on the clock.

    Args:
        scenario: ``data`` keys as in `DEFAULT_DATA` (``stock``: SKU -> units;
            ``forced_outcomes``: order number -> ``full``/``partial``/``short``;
            ``mailbox``: a directory to serve when run by ``sandbox up``).
        seed: Overrides the scenario's seed.
        transport: The 3PL's side of the mailbox (default: ``mailbox`` as a drop folder).
        clock: Wall and monotonic time (a ``ManualClock`` in tests).
    """

    system = "edi3pl"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        transport: EdiTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.transport = transport
        self.sftp: RunningSftp | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        super().__init__(scenario, seed=seed)

    # -- kit override points -----------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """See `default_scenario`."""
        return default_scenario()

    def seed_state(self, scenario: Scenario) -> None:
        """Stock, counters and order book from the scenario."""
        data = {**copy.deepcopy(DEFAULT_DATA), **scenario.data}
        self.config = data
        us = data["us"]
        self.us = Party(us["qualifier"], us["id"], us.get("application_id", ""))
        self.stock: dict[str, int] = {str(k): int(v) for k, v in data["stock"].items()}
        self.orders: dict[str, OrderRecord] = {}
        self.interchanges: dict[str, list[str]] = {}
        self.acks_received: list[str] = []
        self.advices_sent: list[str] = []
        self.rejected_files: list[str] = []
        self.counters = InMemoryControlNumbers()
        self.time_scale = float(data["time_scale"])
        self.loop_errors: list[str] = []
        self._next_advice: float | None = None
        self._shipment_seq = 0

    def register_routes(self, app: FastAPI) -> None:
        """No business HTTP API (the 3PL speaks files): the server runs the mailbox loop.

        With ``mailbox`` in the scenario, the loop runs while the server does; with ``sftp``
        too (``{"username": ..., "authorized_keys": ["ssh-ed25519 AAAA..."]}``), the mailbox
        is also served over SFTP on loopback (see `credentials`).
        """
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(application: Any) -> AsyncIterator[Any]:
            async with inner(application) as state, contextlib.AsyncExitStack() as stack:
                mailbox = self.config.get("mailbox")
                if self.transport is None and mailbox:
                    self.transport = DropFolderTransport(
                        Path(mailbox), MailboxLayout().mirrored("3pl-archive", "3pl-error")
                    )
                sftp = self.config.get("sftp")
                if mailbox and sftp:
                    self.sftp = await stack.enter_async_context(
                        serve_sftp(
                            Path(mailbox),
                            username=str(sftp["username"]),
                            client_keys=[
                                asyncssh.import_public_key(k) for k in sftp["authorized_keys"]
                            ],
                        )
                    )
                if self.transport is not None:
                    self.start()
                try:
                    yield state
                finally:
                    await self.stop()
                    self.sftp = None

        app.router.lifespan_context = lifespan

    def register_admin_routes(self, router: APIRouter) -> None:
        """``/_sandbox/edi3pl/orders/{number}``, ``/stock`` and ``POST /step``."""

        @router.get("/edi3pl/orders/{number}")
        async def order(number: str) -> Response:
            view = self.order_view(number)
            if view is None:
                return json_response({"error": f"no 940 seen for order {number}"}, 404)
            return json_response(view)

        @router.get("/edi3pl/status")
        async def status() -> Response:
            return json_response(self.status())

        @router.get("/edi3pl/stock")
        async def stock() -> Response:
            return json_response({"stock": dict(sorted(self.stock.items()))})

        @router.post("/edi3pl/step")
        async def step() -> Response:
            if self.transport is None:
                return json_response({"error": "no mailbox configured"}, 409)
            await self.step()
            return json_response({"stepped": True})

    def credentials(self) -> dict[str, Any]:
        """The mailbox, the 3PL's identity and, when served, the SFTP endpoint."""
        out: dict[str, Any] = {"mailbox": self.config.get("mailbox"), "isa_id": self.us.id}
        if self.sftp is not None:
            out["sftp"] = {
                "host": self.sftp.host,
                "port": self.sftp.port,
                "username": self.sftp.username,
                "host_key": self.sftp.host_key.export_public_key().decode("ascii").strip(),
            }
        return out

    # -- inspection --------------------------------------------------------------------------

    def order_view(self, number: str) -> dict[str, Any] | None:
        """What the 3PL did for one depositor order number (940s, duplicates, 997s, 945s)."""
        record = self.orders.get(number)
        return record.as_json() if record is not None else None

    def status(self) -> dict[str, Any]:
        """Counts of what the 3PL did, and the errors its loop survived."""
        by_status: dict[str, int] = {}
        for record in self.orders.values():
            by_status[record.status] = by_status.get(record.status, 0) + 1
        return {
            "orders": by_status,
            "interchanges_received": len(self.interchanges),
            "acks_received": len(self.acks_received),
            "advices_sent": list(self.advices_sent),
            "rejected_files": list(self.rejected_files),
            "loop_errors": list(self.loop_errors),
        }

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run `step` every ``poll_interval_s`` (scaled) in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the background loop (a step in progress finishes first)."""
        task, self._task = self._task, None
        if task is not None:
            async with self._lock:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        interval = max(MIN_POLL_S, float(self.config["poll_interval_s"]) * self.time_scale)
        while True:
            try:
                await self.step()
            except Exception as exc:  # the loop must outlive one bad cycle
                self.loop_errors.append(f"{type(exc).__name__}: {exc}")
            await self.clock.sleep(interval)

    async def step(self) -> None:
        """One cycle: read inbound files, ship what is due, send the 846 when due."""
        async with self._lock:
            transport = self._transport()
            for name in await transport.list_inbound():
                await self._inbound(transport, name)
            now = self.clock.monotonic()
            for number in sorted(self.orders):
                record = self.orders[number]
                if record.status in ("pending", "partially_shipped") and record.due <= now:
                    await self._pick(transport, number, record)
            if self._next_advice is None or now >= self._next_advice:
                await self.send_inventory_advice()
                interval = float(self.config["advice_interval_s"]) * self.time_scale
                self._next_advice = now + interval

    def _transport(self) -> EdiTransport:
        if self.transport is None:
            raise RuntimeError("the 3PL simulator has no mailbox: pass transport=...")
        return self.transport

    # -- inbound -----------------------------------------------------------------------------

    async def _inbound(self, transport: EdiTransport, name: str) -> None:
        data = await transport.read(name)
        try:
            document = read_x12(data)
        except X12EnvelopeError as exc:
            self.rejected_files.append(name)
            await transport.quarantine(name, str(exc))
            return
        for interchange in document.interchanges:
            findings = [*document.findings, *self._business_findings(interchange)]
            await self._interchange(transport, interchange, findings)
        await transport.archive(name)

    def _business_findings(self, interchange: Interchange) -> list[Finding]:
        out: list[Finding] = []
        for group in interchange.groups:
            for ts in group.sets:
                if ts.set_id == "940":
                    out.extend(
                        validate_set(
                            ts,
                            SCHEMA_940,
                            interchange=interchange.control_number,
                            group=group.control_number,
                        )
                    )
        return out

    async def _interchange(
        self, transport: EdiTransport, ic: Interchange, findings: list[Finding]
    ) -> None:
        key = f"{ic.sender_id}:{ic.control_number}"
        if key in self.interchanges:
            for number in self.interchanges[key]:
                record = self.orders[number]
                record.received_940s += 1
                record.duplicates_absorbed += 1
                self.effects.attempt("940", number)
                self.effects.absorbed("940", number)
            return
        numbers: list[str] = []
        self.interchanges[key] = numbers
        if all(g.functional_id == "FA" for g in ic.groups):
            self.acks_received.append(key)
            return
        ack = acknowledge(ic, findings, us=self.us, counters=self.counters, at=self.clock.now())
        ack_name = f"997-{ack.control_number:09d}.x12" if ack is not None else ""
        if ack is not None:
            await transport.put_outbound(ack_name, write_x12(ack).encode("ascii"))
        for group in ic.groups:
            for ts in group.sets:
                if ts.set_id != "940":
                    continue
                release = read_release(ts)
                number = release.order_number or f"?{group.control_number}:{ts.control_number}"
                numbers.append(number)
                rejected = any(
                    x.fatal
                    and x.group_control == group.control_number
                    and x.set_control in (None, ts.control_number)
                    for x in findings
                )
                self._accept(number, release, ack_name, rejected)

    def _accept(self, number: str, release: Release, ack_name: str, rejected: bool) -> None:
        record = self.orders.setdefault(number, OrderRecord())
        record.received_940s += 1
        if ack_name:
            record.acks.append(ack_name)
        self.effects.attempt("940", number)
        if rejected:
            record.rejected_940s += 1
            if record.release is None:
                record.status = "rejected"
            self.effects.refused("940", number)
            return
        if release.purpose == "F":
            if record.status == "pending" and record.release is not None:
                record.status = "cancelled"
                self.effects.state("940", number, "cancelled")
            return
        if record.release is not None and release.purpose == "N":
            record.duplicates_absorbed += 1
            self.effects.absorbed("940", number)
            return
        if record.release is not None and record.status != "pending":
            return  # too late to replace: already picking
        record.status = "pending"
        record.release = release
        record.outcome = self._outcome(number)
        record.remaining = {line.line_ref: line.quantity for line in release.lines}
        record.due = self.clock.monotonic() + self._delay("pick_delay_s")
        self.effects.created("940", number, "pending")

    def _outcome(self, number: str) -> str:
        forced: Mapping[str, str] = self.config.get("forced_outcomes") or {}
        if number in forced:
            return forced[number]
        weights = self.config["outcomes"]
        rng = self._rng(number, "outcome")
        return rng.choices(OUTCOMES, [int(weights.get(o, 0)) for o in OUTCOMES])[0]

    def _rng(self, *parts: str) -> random.Random:
        return random.Random(":".join((str(self.seed), *parts)))

    def _delay(self, key: str) -> float:
        return float(self.config[key]) * self.time_scale

    # -- picking and shipping ----------------------------------------------------------------

    async def _pick(self, transport: EdiTransport, number: str, record: OrderRecord) -> None:
        release = record.release
        assert release is not None
        split = record.outcome == "partial" and not record.shipments and _units(record) > 1
        short = record.outcome == "short" and not split
        picked: list[PickedLine] = []
        for index, line in enumerate(release.lines):
            outstanding = record.remaining.get(line.line_ref, 0)
            wanted = outstanding
            if split:
                single = len(release.lines) == 1
                wanted = outstanding - outstanding // 2 if single else (wanted if index == 0 else 0)
            elif short and index == len(release.lines) - 1 and outstanding > 0:
                wanted -= 1 + self._rng(number, "short").randrange(max(1, outstanding // 2))
            if wanted <= 0 and (split or outstanding == 0):
                continue
            shipped = max(0, min(wanted, self.stock.get(line.sku, 0)))
            self.stock[line.sku] = self.stock.get(line.sku, 0) - shipped
            record.remaining[line.line_ref] = outstanding - shipped
            picked.append(PickedLine(line, outstanding, shipped))
        await self._ship(transport, number, record, picked, final=not split)
        if split:
            record.status = "partially_shipped"
            record.due = self.clock.monotonic() + self._delay("pick_delay_s")
        else:
            record.status = "shipped"
            self.effects.state("940", number, "shipped")

    async def _ship(
        self,
        transport: EdiTransport,
        number: str,
        record: OrderRecord,
        picked: list[PickedLine],
        final: bool,
    ) -> None:
        assert record.release is not None
        rng = self._rng(number, "ship", str(len(record.shipments)))
        scac, routing = self._carrier(record.release, rng)
        tracking = _tracking(scac, rng)
        self._shipment_seq += 1
        shipment_id = f"SH{self.seed % 1000:03d}{self._shipment_seq:06d}"
        body = build_945(
            record.release,
            picked,
            final=final,
            shipment_id=shipment_id,
            tracking=tracking,
            scac=scac,
            routing=routing,
            at=self.clock.now(),
        )
        name = await self._send(transport, "SW", body)
        lines = [
            {"sku": p.line.sku, "line": p.line.line_ref, "ordered": p.ordered, "shipped": p.shipped}
            for p in picked
        ]
        record.shipments.append(ShipmentSent(name, shipment_id, tracking, scac, final, lines))
        self.effects.created("945", number, {"file": name, "final": final})

    def _carrier(self, release: Release, rng: random.Random) -> tuple[str, str]:
        if release.scac:
            return release.scac, release.routing or release.scac
        scac, routing = rng.choice(self.config["carriers"])
        return str(scac), str(routing)

    async def send_inventory_advice(self) -> str:
        """Send an 846 for the whole stock now; returns the file name."""
        stock = sorted(self.stock.items())
        reference = f"INV{len(self.advices_sent) + 1:06d}"
        body = build_846(
            stock, reference=reference, warehouse=str(self.config["warehouse"]), at=self.clock.now()
        )
        name = await self._send(self._transport(), "IB", body)
        self.advices_sent.append(name)
        return name

    async def _send(self, transport: EdiTransport, functional_id: str, body: SetBody) -> str:
        depositor = self.config["depositor"]
        them = Party(depositor["qualifier"], depositor["id"], depositor.get("application_id", ""))
        ic = build_interchange(
            sender=self.us,
            receiver=them,
            functional_id=functional_id,
            sets=[body],
            counters=self.counters,
            at=self.clock.now(),
        )
        name = f"{body.set_id}-{ic.control_number:09d}.x12"
        await transport.put_outbound(name, write_x12(ic).encode("ascii"))
        return name


def _units(record: OrderRecord) -> int:
    return sum(record.remaining.values())


def _tracking(scac: str, rng: random.Random) -> str:
    if scac.startswith("UPS"):
        alphabet = string.ascii_uppercase + string.digits
        return "1Z" + "".join(rng.choice(alphabet) for _ in range(16))
    return "".join(rng.choice(string.digits) for _ in range(12))
