"""The Shopify simulator: Admin REST + GraphQL, limits, errors and signed webhooks.

Start one in a test::

    sim = ShopifySimulator(webhook_time_scale=0.0001)
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # token, secret, API URLs
"""

try:
    import graphql as _graphql  # noqa: F401 - the GraphQL Admin API needs graphql-core
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Shopify simulator needs graphql-core: pip install 'crossdock[sandbox]'"
    ) from exc

from crossdock.sandbox.shopify._defaults import (
    LATEST_VERSION,
    SUPPORTED_VERSIONS,
    default_scenario,
)
from crossdock.sandbox.shopify._simulator import INVALID_TOKEN, TOPICS, ShopifySimulator

__all__ = [
    "INVALID_TOKEN",
    "LATEST_VERSION",
    "SUPPORTED_VERSIONS",
    "TOPICS",
    "ShopifySimulator",
    "default_scenario",
]
