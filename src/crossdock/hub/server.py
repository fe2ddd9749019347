"""The running hub: store, connectors, HTTP API and workers in one asyncio process.

`Hub` is the composition root. `start()` opens the store (applying migrations), builds the
inbound side of every active system from the governance file, starts the HTTP API (uvicorn), the
decode worker, a `WorkerPool` whose destinations are the systems' names (each performs its
commands and appends their result events: `crossdock.hub.outbound`) and, when the governance
file enables flows, a `FlowRunner` (`crossdock.hub.flows`) and the availability
(`crossdock.hub.availability`: ERP polling, the read model served at ``/v1/availability``, the
order flow's stock holds and their releases, stock sync to the channels), and with
``[hub] bus_url`` the relay of the event log to NATS JetStream (`crossdock.hub.bus`). `stop()`
shuts them down in order: the API stops taking deliveries, the flows and the workers finish or
release their claims, then the store flushes and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Coroutine, Generator, Mapping
from typing import Any, TypeVar

import uvicorn
from structlog.typing import FilteringBoundLogger

from crossdock.api import IngressSettings, create_app
from crossdock.backbone import SqlStore, store_from_url
from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.flows.order_fulfilment.ports import RESERVATIONS_DESTINATION
from crossdock.governance import Governance, SystemKind
from crossdock.hub.availability import HubAvailability
from crossdock.hub.bus import BusRelay
from crossdock.hub.decoder import DecodeWorker
from crossdock.hub.edi import EdiPoller, edi_pollers
from crossdock.hub.flows import HubFlows
from crossdock.hub.inbound import ConnectorInbound
from crossdock.hub.outbound import build_outbound, command_handler, system_roles
from crossdock.hub.readiness import store_readiness
from crossdock.hub.registry import InboundFactory, build_inbound
from crossdock.observability.logging import get_logger
from crossdock.observability.metrics import HubMetrics
from crossdock.runtime.resilience.breaker import CircuitBreaker
from crossdock.runtime.resilience.config import breaker_config_from
from crossdock.runtime.resilience.store_state import StoreBreakerStateStore
from crossdock.runtime.workers import WorkerPool

__all__ = ["Hub", "run_event_loop", "run_hub"]


T = TypeVar("T")


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.hub")


class _Server(uvicorn.Server):
    # The hub owns SIGTERM and SIGINT: one graceful shutdown for the API and the workers.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve(server: uvicorn.Server, listener: socket.socket) -> None:
    try:
        await server.serve(sockets=[listener])
    except SystemExit as exc:  # uvicorn's way of failing at start; never let it end the loop
        raise RuntimeError(f"the API server failed to start (uvicorn exit {exc.code})") from None
    finally:
        listener.close()


class Hub:
    """One hub process.

    Args:
        governance: The loaded governance file.
        host: Where the API listens (default: ``[hub] api_host``).
        port: Its port (default: ``[hub] api_port``; 0 picks a free one).
        store: A store to use instead of opening ``[hub] database_url`` (the caller closes it).
        environ: Where credentials are read (default: the process environment).
        ingress: The body limit and ``Retry-After`` of the ingress.
        factories: System kind to inbound factory (default: the built-in registry).
        metrics: The hub's metrics (a fresh registry when None).
    """

    def __init__(
        self,
        governance: Governance,
        *,
        host: str | None = None,
        port: int | None = None,
        store: SqlStore | None = None,
        environ: Mapping[str, str] | None = None,
        ingress: IngressSettings | None = None,
        factories: Mapping[SystemKind, InboundFactory] | None = None,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.governance = governance
        self.host = host if host is not None else governance.hub.api_host
        self.port = port if port is not None else governance.hub.api_port
        self.metrics = metrics or HubMetrics()
        self._given_store = store
        self._environ = environ
        self._ingress = ingress
        self._factories = factories
        self.store: SqlStore | None = None
        self.systems: dict[str, ConnectorInbound] = {}
        self.decoder: DecodeWorker | None = None
        self.pool: WorkerPool | None = None
        self.outbound: dict[str, Connector] = {}
        self.flows: HubFlows | None = None
        self.availability: HubAvailability | None = None
        self.edi_pollers: list[EdiPoller] = []
        self.bus_relay: BusRelay | None = None
        self._http: HttpClient | None = None
        self._server: _Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running API."""
        return f"http://{self.host}:{self.port}"

    def _open_store(self) -> SqlStore:
        if self._given_store is not None:
            return self._given_store
        hub = self.governance.hub
        options: dict[str, object] = {}
        if hub.is_sqlite:
            options["synchronous"] = hub.sqlite_synchronous
        return store_from_url(hub.database_url, **options)

    async def start(self) -> None:
        """Open the store, build the connectors, start the API and the workers."""
        store = self._open_store()
        if self._given_store is None:
            await store.start()  # applies every pending migration
        self.store = store
        try:
            self._http = HttpClient(AiohttpTransport())
            self.systems = build_inbound(
                self.governance,
                self._http,
                environ=self._environ,
                factories=self._factories,
                store=store,
            )
            self.decoder = DecodeWorker(store, self.systems, metrics=self.metrics)
            self._tasks.append(asyncio.create_task(self.decoder.run(), name="decoder"))
            self.edi_pollers = edi_pollers(store, self.systems, on_recorded=self.decoder.notify)
            for poller in self.edi_pollers:
                self._tasks.append(asyncio.create_task(poller.run(), name=f"edi:{poller.system}"))
            if self.governance.hub.bus_url:
                self.bus_relay = BusRelay(store, self.governance.hub.bus_url)
                self._tasks.append(asyncio.create_task(self.bus_relay.run(), name="bus"))
            roles = system_roles(self.governance)
            self.outbound = build_outbound(
                self.governance,
                self._http,
                self.systems,
                environ=self._environ,
                required=roles if self.governance.enabled_flows() else (),
            )
            self._install_breakers(store)
            availability: HubAvailability | None = None
            if self.governance.enabled_flows():
                availability = HubAvailability(
                    store, self.governance, self.outbound, registry=self.metrics.registry
                )
                await availability.start()
                self.availability = availability
            handlers = {
                name: command_handler(connector, roles.get(name, frozenset()), store=store)
                for name, connector in self.outbound.items()
            }
            if availability is not None:
                handlers[RESERVATIONS_DESTINATION] = availability.release_handler()
            if handlers:
                self.pool = WorkerPool(store, handlers, metrics=self.metrics)
                self._tasks.append(asyncio.create_task(self.pool.run(), name="workers"))
            if availability is not None:
                if self.pool is not None:
                    availability.on_commands(self.pool.notify)
                self.flows = HubFlows(
                    store,
                    self.governance,
                    availability=availability.port,
                    on_commands=self.pool.notify if self.pool is not None else None,
                )
                if self.flows.flows:
                    availability.on_appended(self.flows.notify)
                    self._tasks.append(asyncio.create_task(self.flows.run(), name="flows"))
                else:
                    self.flows = None
                for name, loop in availability.tasks():
                    self._tasks.append(asyncio.create_task(loop, name=name))
            app = create_app(
                store,
                self.systems,
                metrics=self.metrics,
                readiness=store_readiness(store),
                ingress=self._ingress,
                on_recorded=self.decoder.notify,
                availability=availability.model if availability is not None else None,
            )
            await self._start_server(app)
        except BaseException:
            await self.stop()
            raise
        _log().info(
            "hub started",
            url=self.base_url,
            systems=sorted(self.systems),
            database=store.dialect,
        )

    def _install_breakers(self, store: SqlStore) -> None:
        """Give each system's connector a breaker whose state lives in the store.

        Every worker of every hub process on the same store then sees one state per destination,
        probes it half-open once, and the console reads it with `store.list_breakers()`.
        Thresholds come from the system's ``breaker`` table in the governance file.
        """
        shared = StoreBreakerStateStore(store)
        connectors: dict[str, Connector] = {
            name: inbound.connector
            for name, inbound in self.systems.items()
            if isinstance(inbound.connector, Connector)
        }
        connectors.update(self.outbound)
        for name, connector in connectors.items():
            config = breaker_config_from(self.governance.systems[name].breaker)
            connector.breaker = CircuitBreaker(name, store=shared, config=config)

    async def _start_server(self, app: object) -> None:
        try:
            # Bound here, not by uvicorn: its bind failure is a SystemExit, which would escape
            # the event loop; ours is an OSError the caller can report.
            listener = socket.create_server((self.host, self.port), backlog=2048)
            # Accepted sockets inherit it: without it a keep-alive answer can wait ~40 ms on
            # Nagle's algorithm meeting the client's delayed ACK.
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise OSError(
                exc.errno, f"the API could not listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            access_log=False,  # URLs may carry a webhook token
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=5,
            http="httptools",  # said, not guessed: the h11 fallback costs ~70 % more per request
            # Longer than senders keep an idle connection (aiohttp 15 s, load balancers 60 s):
            # the sender closes first, never writes a delivery into a connection we just closed.
            timeout_keep_alive=75,
        )
        server = _Server(config)
        self._server = server
        task = asyncio.create_task(_serve(server, listener), name="api")
        self._tasks.append(task)
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the API server stopped before it started")
            await asyncio.sleep(0.01)

    async def wait(self) -> None:
        """Wait until a part of the hub stops by itself (the API task, say)."""
        if self._tasks:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def stop(self) -> None:
        """Stop taking deliveries, let the workers finish or release, close the store."""
        if self._server is not None:
            self._server.should_exit = True
        if self.decoder is not None:
            self.decoder.request_stop()
        if self.bus_relay is not None:
            self.bus_relay.request_stop()
        if self.flows is not None:
            self.flows.request_stop()
        if self.pool is not None:
            self.pool.request_stop()
        for poller in self.edi_pollers:
            poller.request_stop()
        if self.availability is not None:
            self.availability.request_stop()
        outcomes = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, outcome in zip(self._tasks, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError | SystemExit
            ):
                _log().error("hub part failed", part=task.get_name(), error=repr(outcome))
        self._tasks.clear()
        self._server = None
        self.availability = None
        for poller in self.edi_pollers:
            with contextlib.suppress(Exception):  # a mailbox that never connected
                await poller.edi.transport.close()
        self.edi_pollers = []
        if self._http is not None:
            await self._http.transport.aclose()
            self._http = None
        if self.store is not None and self._given_store is None:
            await self.store.close()
        self.store = None
        _log().info("hub stopped")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on uvloop when it is installed, else on asyncio's own loop.

    The hub's HTTP ingress and workers spend most of their time in the event loop: uvloop
    costs about a fifth less CPU per request (bench/availability.py). uvicorn's own loop option
    does not apply to a server started inside a running loop, so the choice is made here.
    """
    try:
        import uvloop
    except ImportError:  # Windows, or a slim install
        return asyncio.run(main)
    return uvloop.run(main)


async def run_hub(hub: Hub) -> None:
    """Run `hub` until SIGTERM or SIGINT (or until a part stops), then shut it down gracefully."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await hub.start()
        stopped = asyncio.create_task(stop.wait())
        ended = asyncio.create_task(hub.wait())
        await asyncio.wait({stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, ended):
            task.cancel()
        _log().info("hub stopping", signal=stop.is_set())
    finally:
        await hub.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
