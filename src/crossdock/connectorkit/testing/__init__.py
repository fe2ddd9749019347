"""The connector conformance battery, shipped so that any connector can run it.

Describe a connector and its simulator once with a `ConformanceSpec`, then let the factory
write the standard battery as a pytest class::

    from crossdock.connectorkit.testing import ConformanceSpec, make_conformance_tests

    WIDGETS_SPEC = ConformanceSpec(name="widgets", start=..., connect=..., ...)
    TestWidgetsConformance = make_conformance_tests(WIDGETS_SPEC)

The battery: auth accepted, refused and refreshed; every error class mapped to its exception;
the rate budget respected (and the limit shown real); the breaker opening and recovering
through one half-open probe; an idempotent retry after a lost answer, proven exactly-once by
the simulator's effect ledger; a refused signature; a duplicate delivery stored once.

Only the kit's public surface is used: a simulator is anything that answers the
``/_sandbox`` admin endpoints (faults, requests, effects). pytest is imported when
`make_conformance_tests` is called, not when this package is.
"""

from crossdock.connectorkit.testing._admin import (
    Effects,
    SandboxAdmin,
    SandboxAdminError,
    SimulatorRequest,
)
from crossdock.connectorkit.testing._factory import BATTERY, make_conformance_tests
from crossdock.connectorkit.testing._rig import ConformanceRig, burst, open_rig
from crossdock.connectorkit.testing._spec import (
    DEFAULT_ERROR_CLASSES,
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    InboundSample,
    InboundSpec,
    RateLimitSpec,
    SimulatorEnv,
    error_classes,
    rewrite_body,
)

__all__ = [
    "BATTERY",
    "DEFAULT_ERROR_CLASSES",
    "CommandSample",
    "ConformanceRig",
    "ConformanceSpec",
    "ConnectorOptions",
    "Effects",
    "InboundSample",
    "InboundSpec",
    "RateLimitSpec",
    "SandboxAdmin",
    "SandboxAdminError",
    "SimulatorEnv",
    "SimulatorRequest",
    "burst",
    "error_classes",
    "make_conformance_tests",
    "open_rig",
    "rewrite_body",
]
