"""The composition root: builds connectors from the governance file and runs the hub.

Nothing in the core imports this package; it imports the connectors, the API and the core.
"""

from crossdock.hub.decoder import DecodeWorker, dead_reason
from crossdock.hub.inbound import ConnectorInbound, DedupeKey
from crossdock.hub.readiness import store_readiness
from crossdock.hub.registry import (
    INBOUND_FACTORIES,
    NO_WEBHOOKS,
    HubConfigError,
    InboundBuild,
    InboundFactory,
    build_inbound,
)
from crossdock.hub.server import Hub, run_hub

__all__ = [
    "INBOUND_FACTORIES",
    "NO_WEBHOOKS",
    "ConnectorInbound",
    "DecodeWorker",
    "DedupeKey",
    "Hub",
    "HubConfigError",
    "InboundBuild",
    "InboundFactory",
    "build_inbound",
    "dead_reason",
    "run_hub",
    "store_readiness",
]
