"""The simulator base: one ASGI app per system, with faults, inspection and webhooks built in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from crossdock.sandbox.kit._admin import admin_router
from crossdock.sandbox.kit._effects import EffectLedger
from crossdock.sandbox.kit._faults import FaultInjector
from crossdock.sandbox.kit._json import json_response
from crossdock.sandbox.kit._middleware import EXTRA_HEADERS_KEY, SandboxMiddleware
from crossdock.sandbox.kit._requests import RequestLog
from crossdock.sandbox.kit._scenario import Scenario
from crossdock.sandbox.kit._webhooks import WebhookSender


class SimulatorHTTPError(Exception):
    """Raise from a handler or hook to answer with ``response`` (the system's own error shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class Simulator:
    """Base of every simulator. Subclass it, set ``system``, and fill the override points.

    Override points (all optional except `register_routes`):
        default_scenario: The scenario used when none is given.
        seed_state: Build the in-memory state from a scenario (called again on reset).
        register_routes: Add the system's business endpoints to the app; protect them with
            ``Depends(self.guard)`` to get auth and rate limits.
        register_admin_routes: Add system-specific ``/_sandbox/<system>/...`` helpers.
        authenticate: Raise `SimulatorHTTPError` with the system's 401 when the call is not
            authorised.
        rate_limit: Raise `SimulatorHTTPError` with the system's 429, or add headers with
            `add_response_header`.
        error_response: The system's error body for an injected status (500, 503...).
        credentials: What a client needs to call this simulator (for the manifest).
        make_webhook_sender: The system's signer and retry schedule, or None if it sends none.

    Args:
        scenario: The initial state and seed (default: `default_scenario`).
        seed: Overrides the scenario's seed.
    """

    system: ClassVar[str] = ""

    def __init__(self, scenario: Scenario | None = None, *, seed: int | None = None) -> None:
        self.scenario = scenario if scenario is not None else self.default_scenario()
        self.seed = self.scenario.seed if seed is None else seed
        self.faults = FaultInjector(self.seed)
        self.effects = EffectLedger()
        self.requests = RequestLog()
        self.webhooks: WebhookSender | None = self.make_webhook_sender()
        self._app: ASGIApp | None = None
        self.seed_state(self.scenario)

    # -- override points -------------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The scenario used when none is given."""
        return Scenario(seed=0)

    def seed_state(self, scenario: Scenario) -> None:
        """Build the in-memory state from ``scenario``."""

    def register_routes(self, app: FastAPI) -> None:
        """Add the system's endpoints to ``app``."""
        raise NotImplementedError

    def register_admin_routes(self, router: APIRouter) -> None:
        """Add system-specific helpers under ``/_sandbox``."""

    async def authenticate(self, request: Request) -> None:
        """Check the call's credentials; raise `SimulatorHTTPError` to refuse it."""

    async def rate_limit(self, request: Request) -> None:
        """Apply the system's rate limits; raise `SimulatorHTTPError` to refuse the call."""

    def error_response(self, status: int) -> Response:
        """The system's error response for ``status`` (used by faults and unknown routes)."""
        return json_response({"error": HTTPStatus(status).phrase}, status)

    def credentials(self) -> dict[str, Any]:
        """Test credentials and addresses a client needs, written to the manifest."""
        return {}

    def make_webhook_sender(self) -> WebhookSender | None:
        """The system's webhook sender, or None."""
        return None

    # -- provided --------------------------------------------------------------------------

    async def guard(self, request: Request) -> None:
        """A FastAPI dependency: `authenticate`, then `rate_limit`."""
        await self.authenticate(request)
        await self.rate_limit(request)

    @staticmethod
    def add_response_header(request: Request, name: str, value: str) -> None:
        """Add a header to the response of this call, whatever the handler returns."""
        extra = request.scope.get(EXTRA_HEADERS_KEY)
        if extra is not None:
            extra.append((name.lower().encode("latin-1"), value.encode("latin-1")))

    def reset(self) -> None:
        """Back to the scenario: state reseeded, faults, effects and logs cleared."""
        self.faults.clear()
        self.effects.clear()
        self.requests.clear()
        if self.webhooks is not None:
            self.webhooks.clear()
        self.seed_state(self.scenario)

    def manifest_entry(self, base_url: str) -> dict[str, Any]:
        """This simulator's manifest entry when served at ``base_url``."""
        return {
            "base_url": base_url,
            "admin_url": f"{base_url}/_sandbox",
            "seed": self.seed,
            "scenario": self.scenario.name,
            "credentials": self.credentials_for(base_url),
        }

    def credentials_for(self, base_url: str) -> dict[str, Any]:
        """`credentials`, with ``{base_url}`` placeholders in string values filled in."""
        return {
            key: value.replace("{base_url}", base_url) if isinstance(value, str) else value
            for key, value in self.credentials().items()
        }

    @property
    def app(self) -> ASGIApp:
        """The ASGI app (built once): serve it with uvicorn or call it in-process."""
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _build_app(self) -> ASGIApp:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            try:
                yield
            finally:
                if self.webhooks is not None:
                    await self.webhooks.close()

        app = FastAPI(
            title=f"{self.system} simulator",
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )

        async def on_simulator_error(_: Request, exc: Exception) -> Response:
            assert isinstance(exc, SimulatorHTTPError)
            return exc.response

        async def on_http_error(_: Request, exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            return self.error_response(exc.status_code)

        app.add_exception_handler(SimulatorHTTPError, on_simulator_error)
        app.add_exception_handler(StarletteHTTPException, on_http_error)
        router = admin_router(self)
        self.register_admin_routes(router)
        app.include_router(router)
        self.register_routes(app)
        return SandboxMiddleware(app, self)
