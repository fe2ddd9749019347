"""The simulator kit: what every simulated system is built from.

Declare a simulator by subclassing `Simulator` and filling its override points::

    class WidgetSimulator(Simulator):
        system = "widgets"

        def seed_state(self, scenario):              # in-memory state, again on reset
            self.widgets = {w["key"]: w for w in scenario.data.get("widgets", [])}

        async def authenticate(self, request):       # the system's own 401
            if request.headers.get("x-token") != "t":
                raise SimulatorHTTPError(json_response({"errors": "bad token"}, 401))

        def register_routes(self, app):             # business endpoints, guarded
            @app.get("/widgets", dependencies=[Depends(self.guard)])
            async def widgets(): ...

    register("widgets", WidgetSimulator)             # for `crossdock sandbox up`

Start one on loopback with ``async with serve(sim.app) as server`` (``server.base_url``), over
HTTPS with ``serve(sim.app, tls=LocalCA.load_or_create(dir))``, several with
``run_sandbox([...])``, or call ``sim.app`` in-process through an ASGI transport. Every
simulator answers ``/_sandbox/{health,faults,effects,requests,reset,webhooks,deliveries}``.
"""

from crossdock.sandbox.kit._effects import EffectLedger, KeyEffects
from crossdock.sandbox.kit._faults import FaultAction, FaultDecision, FaultInjector, FaultSpec
from crossdock.sandbox.kit._json import dumps, json_response
from crossdock.sandbox.kit._ratelimit import BucketResult, LeakyBucket
from crossdock.sandbox.kit._registry import (
    SimulatorFactory,
    UnknownSystemError,
    create,
    discovery_errors,
    factory_for,
    register,
    system_names,
    unregister,
)
from crossdock.sandbox.kit._requests import RequestLog, RequestRecord
from crossdock.sandbox.kit._sandbox import (
    MANIFEST_FORMAT,
    ManifestError,
    RunningSandbox,
    read_manifest,
    run_sandbox,
    system_entry,
    write_manifest,
)
from crossdock.sandbox.kit._scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from crossdock.sandbox.kit._server import RunningServer, serve
from crossdock.sandbox.kit._signing import Base64HmacSha256Signer, HexHmacSha256Signer, Signer
from crossdock.sandbox.kit._simulator import Simulator, SimulatorHTTPError
from crossdock.sandbox.kit._tls import LocalCA, default_data_dir
from crossdock.sandbox.kit._webhooks import (
    ChaosSpec,
    Delivery,
    DeliveryAttempt,
    RetrySchedule,
    Subscription,
    WebhookSender,
)

__all__ = [
    "MANIFEST_FORMAT",
    "Base64HmacSha256Signer",
    "BucketResult",
    "ChaosSpec",
    "Delivery",
    "DeliveryAttempt",
    "EffectLedger",
    "FaultAction",
    "FaultDecision",
    "FaultInjector",
    "FaultSpec",
    "HexHmacSha256Signer",
    "KeyEffects",
    "LeakyBucket",
    "LocalCA",
    "ManifestError",
    "RequestLog",
    "RequestRecord",
    "RetrySchedule",
    "RunningSandbox",
    "RunningServer",
    "Scenario",
    "ScenarioError",
    "Signer",
    "Simulator",
    "SimulatorFactory",
    "SimulatorHTTPError",
    "Subscription",
    "UnknownSystemError",
    "WebhookSender",
    "create",
    "default_data_dir",
    "discovery_errors",
    "dumps",
    "factory_for",
    "json_response",
    "load_scenario",
    "parse_scenario",
    "read_manifest",
    "register",
    "run_sandbox",
    "serve",
    "system_entry",
    "system_names",
    "unregister",
    "write_manifest",
]
