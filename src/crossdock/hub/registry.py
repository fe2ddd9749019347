"""Which connector receives each kind of system's deliveries, built from the governance file.

`INBOUND_FACTORIES` maps a system kind to a factory that builds its `ConnectorInbound` from the
system's `[systems.<name>]` table. A kind without a factory (its connector does not exist yet, or
it has no webhooks) is skipped with a log line saying so.

Credentials (resolved from the environment when the hub starts):

- shopify: credentials ``webhook_secret`` (and ``webhook_secret_previous`` during a rotation),
  ``access_token``; settings ``shop_domain`` (default: the base URL's host), ``currency``.
- easypost: credentials ``webhook_secret`` (and ``webhook_secret_previous``), ``api_key``.
- shipstation: credentials ``api_key``, ``api_secret`` (fetching the shipments a notice names),
  ``hook_token``: the secret at the end of the unsigned hook URL ``/hooks/{name}/{token}`` (one
  token at a time: the ingress checks a single URL token); settings ``store_id``.
- edi: files, not webhooks (the ingress refuses HTTP deliveries); see `crossdock.hub.edi` for
  its settings. The hub polls its mailbox with an `EdiPoller`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from structlog.typing import FilteringBoundLogger

from crossdock.connectorkit import Secret
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.easypost import (
    EasyPostConnector,
    InMemoryShipmentDirectory,
    ShipmentDirectory,
)
from crossdock.connectors.easypost import event_id as easypost_event_id
from crossdock.connectors.shipstation import ShipStationConnector
from crossdock.connectors.shopify import ShopifyConnector, ShopifySettings, inbox_dedupe_key
from crossdock.governance import Governance, SystemConfig, SystemKind
from crossdock.governance.errors import SecretResolutionError
from crossdock.hub.directories import LinkLookup, StoreShipmentDirectory
from crossdock.hub.inbound import ConnectorInbound
from crossdock.observability.logging import get_logger, register_secret

__all__ = [
    "INBOUND_FACTORIES",
    "NO_WEBHOOKS",
    "HubConfigError",
    "InboundBuild",
    "InboundFactory",
    "build_inbound",
]


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.hub.registry")


class HubConfigError(Exception):
    """The governance file cannot be turned into a running hub; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("cannot start the hub:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class InboundBuild:
    """What a factory gets: the system's name and table, the HTTP seam, the environment."""

    name: str
    config: SystemConfig
    http: HttpClient
    environ: Mapping[str, str] | None = None
    store: LinkLookup | None = None
    """The hub's store, for connectors that read links (None: they get an in-memory stand-in)."""

    def secret(self, credential: str) -> Secret:
        """Resolve a required credential (`HubConfigError` naming it when missing)."""
        if credential not in self.config.credentials:
            raise HubConfigError(
                [f"systems.{self.name}.credentials.{credential}: missing (receiving needs it)"]
            )
        try:
            value = self.config.credential(credential, self.environ)
        except SecretResolutionError as exc:
            raise HubConfigError([f"systems.{self.name}: {exc}"]) from None
        register_secret(value.get_secret_value())  # never in a log line
        return Secret(value.get_secret_value())

    def optional_secret(self, credential: str) -> Secret | None:
        """Resolve a credential when declared, else None."""
        return self.secret(credential) if credential in self.config.credentials else None

    def webhook_secrets(self) -> tuple[Secret, ...]:
        """The current webhook secret and, during a rotation, the previous one."""
        previous = self.optional_secret("webhook_secret_previous")
        current = self.secret("webhook_secret")
        return (current,) if previous is None else (current, previous)


InboundFactory = Callable[[InboundBuild], ConnectorInbound]


def _shopify(build: InboundBuild) -> ConnectorInbound:
    settings = build.config.settings
    domain = str(settings.get("shop_domain") or urlsplit(build.config.base_url).hostname or "")
    shop = ShopifySettings(
        shop_domain=domain,
        currency=str(settings.get("currency", "USD")),
        webhook_secrets=build.webhook_secrets(),
    )
    if build.config.api_version:
        shop = replace(shop, api_version=build.config.api_version)
    connector = ShopifyConnector(
        shop,
        http=build.http,
        access_token=build.optional_secret("access_token"),
        base_url=build.config.base_url,
        logger=_log(),
    )
    return ConnectorInbound(
        name=build.name,
        connector=connector,
        dedupe=lambda headers, _body: inbox_dedupe_key(headers),
        keep_prefixes=("x-shopify-",),
    )


def _easypost(build: InboundBuild) -> ConnectorInbound:
    directory: ShipmentDirectory = (
        InMemoryShipmentDirectory() if build.store is None else StoreShipmentDirectory(build.store)
    )
    connector = EasyPostConnector(
        http=build.http,
        api_key=build.optional_secret("api_key") or "",
        webhook_secrets=build.webhook_secrets(),
        directory=directory,
        base_url=build.config.base_url,
    )
    return ConnectorInbound(
        name=build.name,
        connector=connector,
        dedupe=lambda _headers, body: easypost_event_id(body),
        keep_names=frozenset({"content-type", "x-hmac-signature"}),
    )


def _shipstation(build: InboundBuild) -> ConnectorInbound:
    # ShipStation V1 signs nothing: the token at the end of the hook URL is the only proof.
    token = build.secret("hook_token")
    store_id = build.config.settings.get("store_id")
    connector = ShipStationConnector(
        http=build.http,
        api_key=build.secret("api_key").reveal(),
        api_secret=build.secret("api_secret"),
        hook_tokens=(token,),
        store_id=int(store_id) if isinstance(store_id, int | str) and str(store_id) else None,
        destination=build.name,
        base_url=build.config.base_url,
    )
    return ConnectorInbound(
        name=build.name,
        connector=connector,
        dedupe=lambda _headers, body: connector.dedupe_key(body),
        url_token=token,
        signed=False,
    )


def _edi(build: InboundBuild) -> ConnectorInbound:
    # Imported here: crossdock.hub.edi builds on this module (InboundBuild, HubConfigError).
    from crossdock.hub.edi import edi_inbound

    return edi_inbound(build)


INBOUND_FACTORIES: dict[SystemKind, InboundFactory] = {
    SystemKind.SHOPIFY: _shopify,
    SystemKind.EASYPOST: _easypost,
    SystemKind.SHIPSTATION: _shipstation,
    SystemKind.EDI: _edi,
}

NO_WEBHOOKS: frozenset[SystemKind] = frozenset(
    {SystemKind.NETSUITE, SystemKind.BUSINESSCENTRAL, SystemKind.EDI}
)
"""Kinds whose deliveries do not arrive as webhooks (polled APIs, EDI files)."""


def build_inbound(
    governance: Governance,
    http: HttpClient,
    *,
    environ: Mapping[str, str] | None = None,
    factories: Mapping[SystemKind, InboundFactory] | None = None,
    store: LinkLookup | None = None,
) -> dict[str, ConnectorInbound]:
    """Build the inbound side of every active system that has one.

    Args:
        governance: The loaded governance file.
        http: The HTTP seam shared by the connectors.
        environ: Where credentials are read (default: the process environment).
        factories: Kind to factory (default: `INBOUND_FACTORIES`).
        store: The hub's store: EasyPost trackers find their order in its tracking links
            (without it, an empty in-memory directory dead-letters every tracker).

    Raises:
        HubConfigError: A system that receives deliveries lacks a credential; every such
            problem is listed.
    """
    table = INBOUND_FACTORIES if factories is None else factories
    built: dict[str, ConnectorInbound] = {}
    problems: list[str] = []
    for name, config in governance.active_systems().items():
        factory = table.get(config.kind)
        if factory is None:
            if config.kind not in NO_WEBHOOKS:
                _log().warning(
                    "no inbound connector for this kind yet; its deliveries are not received",
                    system=name,
                    kind=str(config.kind),
                    path=f"/hooks/{name}",
                )
            continue
        try:
            built[name] = factory(InboundBuild(name, config, http, environ, store))
        except HubConfigError as exc:
            problems += exc.problems
        except (ValueError, TypeError) as exc:
            problems.append(f"systems.{name}: {exc}")
    if problems:
        raise HubConfigError(problems)
    for name in built:
        _log().info("receiving deliveries", system=name, path=f"/hooks/{name}")
    return built
