"""The outbound side: every active system performs the commands the flows write to the outbox.

`build_outbound` returns one connector per active system that handles commands. A system that
the inbound registry already built (Shopify, ShipStation, EasyPost, the EDI 3PL) keeps that very
instance, so both sides share its rate budget, breaker and tokens; the kinds whose deliveries are
not webhooks (NetSuite, Salesforce, Business Central) are built by `OUTBOUND_FACTORIES`.

`command_handler` wraps a connector as a `WorkerPool` handler: it performs the command and
returns the result with the catalogue's result event (``erp.sales_order.created`` and so on),
which the pool appends in the same transaction as the completion.

Settings and credentials of the outbound-only kinds (credentials are ``env:`` references):

- netsuite: settings ``account_id`` (required), ``rest_url`` (default: ``base_url`` +
  ``/services/rest`` when ``base_url`` is set, else the account's SuiteTalk host); credentials
  ``consumer_key``, ``consumer_secret``, ``token_id``, ``token_secret``.
- salesforce: ``base_url`` is the org's My Domain URL; settings ``login_url`` (the token
  endpoint; default: ``base_url`` + ``/services/oauth2/token``), ``pricebook_id``,
  ``jwt_audience``, ``custom_product`` and ``gift_card_product`` (the ProductCodes of the
  catch-all products that carry order lines without a SKU and sold gift cards; default
  ``CROSSDOCK-CUSTOM`` and ``CROSSDOCK-GIFTCARD``); credentials ``client_id`` and
  ``client_secret`` (client credentials), or ``jwt_consumer_key``, ``jwt_username`` and
  ``jwt_private_key`` (JWT bearer).
- businesscentral: settings ``tenant``, ``environment``, ``company_id``, ``login_url`` (the
  token endpoint; default: Entra's), ``local_currency``; credentials ``client_id``,
  ``client_secret``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from typing import Any

from crossdock.backbone.store import ClaimedCommand, Command, JSONObject, Store
from crossdock.canonical.commands import CATALOGUE, INSTANCE_FIELD, result_event
from crossdock.connectorkit.auth import AuthScheme, OAuth2ClientCredentials, OAuth2JwtBearer
from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.businesscentral import (
    DEFAULT_CUSTOM_ACCOUNT,
    DEFAULT_GIFT_CARD_ACCOUNT,
    DEFAULT_SHIPPING_ACCOUNT,
    BusinessCentralConnector,
)
from crossdock.connectors.netsuite import (
    DEFAULT_CUSTOM_ITEM,
    DEFAULT_GIFT_CARD_ITEM,
    NetSuiteConnector,
)
from crossdock.connectors.salesforce import (
    DEFAULT_CUSTOM_PRODUCT,
    DEFAULT_GIFT_CARD_PRODUCT,
    SalesforceConnector,
)
from crossdock.governance import Governance, SystemKind
from crossdock.hub.inbound import ConnectorInbound
from crossdock.hub.registry import HubConfigError, InboundBuild
from crossdock.observability.logging import get_logger
from crossdock.runtime.workers import Handler, HandlerResult

__all__ = [
    "OUTBOUND_FACTORIES",
    "OutboundFactory",
    "adapt",
    "build_outbound",
    "command_handler",
    "role_for",
    "shipped_to_date",
    "system_roles",
]

OutboundFactory = Callable[[InboundBuild], Connector]
"""Builds the connector of one system from its governance table (the build of the inbound side
is reused: name, table, HTTP seam, environment and credential resolution)."""


def _setting(build: InboundBuild, name: str, default: str | None = None) -> str | None:
    value = build.config.settings.get(name)
    if value is None or str(value) == "":
        return default
    return str(value)


def _required_setting(build: InboundBuild, name: str) -> str:
    value = _setting(build, name)
    if value is None:
        raise HubConfigError([f"systems.{build.name}.settings.{name}: missing (sending needs it)"])
    return value


def _netsuite(build: InboundBuild) -> Connector:
    account = _required_setting(build, "account_id")
    base = build.config.base_url.rstrip("/") if build.config.base_url else ""
    rest = _setting(build, "rest_url")
    if rest is None and base:
        rest = base if base.endswith("/services/rest") else f"{base}/services/rest"
    return NetSuiteConnector(
        http=build.http,
        account_id=account,
        consumer_key=build.secret("consumer_key").reveal(),
        consumer_secret=build.secret("consumer_secret"),
        token_id=build.secret("token_id").reveal(),
        token_secret=build.secret("token_secret"),
        base_url=rest,
        default_currency=_setting(build, "currency"),
        custom_item=_setting(build, "custom_item", DEFAULT_CUSTOM_ITEM),
        gift_card_item=_setting(build, "gift_card_item", DEFAULT_GIFT_CARD_ITEM),
        destination=build.name,
    )


def _salesforce_auth(build: InboundBuild, token_url: str) -> tuple[AuthScheme, str]:
    if "jwt_private_key" in build.config.credentials:
        issuer = build.secret("jwt_consumer_key").reveal()
        auth: AuthScheme = OAuth2JwtBearer(
            build.http,
            token_url,
            issuer=issuer,
            subject=build.secret("jwt_username").reveal(),
            audience=_setting(build, "jwt_audience", "https://login.salesforce.com") or "",
            private_key_pem=build.secret("jwt_private_key"),
        )
        return auth, issuer
    client_id = build.secret("client_id").reveal()
    auth = OAuth2ClientCredentials(
        build.http,
        token_url,
        client_id=client_id,
        client_secret=build.secret("client_secret"),
    )
    return auth, client_id


def _salesforce(build: InboundBuild) -> Connector:
    base = build.config.base_url.rstrip("/") if build.config.base_url else ""
    token_url = _setting(build, "login_url") or (
        f"{base}/services/oauth2/token"
        if base
        else "https://login.salesforce.com/services/oauth2/token"
    )
    auth, client_id = _salesforce_auth(build, token_url)
    options: dict[str, Any] = {}
    if build.config.api_version:
        options["api_version"] = build.config.api_version.removeprefix("v")
    return SalesforceConnector(
        http=build.http,
        auth=auth,
        instance_url=base or None,
        client_id=client_id,
        pricebook_id=_setting(build, "pricebook_id"),
        custom_product=_setting(build, "custom_product", DEFAULT_CUSTOM_PRODUCT),
        gift_card_product=_setting(build, "gift_card_product", DEFAULT_GIFT_CARD_PRODUCT),
        destination=build.name,
        **options,
    )


def _businesscentral(build: InboundBuild) -> Connector:
    return BusinessCentralConnector(
        http=build.http,
        tenant=_required_setting(build, "tenant"),
        environment=_required_setting(build, "environment"),
        company_id=_required_setting(build, "company_id"),
        client_id=build.secret("client_id").reveal(),
        client_secret=build.secret("client_secret"),
        token_url=_setting(build, "login_url"),
        local_currency=_setting(build, "local_currency"),
        custom_account=_setting(build, "custom_account", DEFAULT_CUSTOM_ACCOUNT),
        gift_card_account=_setting(build, "gift_card_account", DEFAULT_GIFT_CARD_ACCOUNT),
        shipping_account=_setting(build, "shipping_account", DEFAULT_SHIPPING_ACCOUNT),
        destination=build.name,
        base_url=build.config.base_url or None,
    )


OUTBOUND_FACTORIES: dict[SystemKind, OutboundFactory] = {
    SystemKind.NETSUITE: _netsuite,
    SystemKind.SALESFORCE: _salesforce,
    SystemKind.BUSINESSCENTRAL: _businesscentral,
}
"""Kinds that only send (their inbound side is polled, or not built yet)."""


def build_outbound(
    governance: Governance,
    http: HttpClient,
    inbound: Mapping[str, ConnectorInbound],
    *,
    environ: Mapping[str, str] | None = None,
    factories: Mapping[SystemKind, OutboundFactory] | None = None,
    required: Collection[str] = (),
) -> dict[str, Connector]:
    """Return the connector of every active system that performs commands, by system name.

    A system named in `required` (one an enabled flow sends commands to) must be buildable. Any
    other system that lacks a setting or a credential is left out with a warning: its commands,
    if any ever come, wait in the outbox.

    Args:
        governance: The loaded governance file.
        http: The HTTP seam shared by the connectors.
        inbound: The inbound side already built: its connectors are reused as they are.
        environ: Where credentials are read (default: the process environment).
        factories: Kind to factory for systems without an inbound side (default:
            `OUTBOUND_FACTORIES`).
        required: Systems that must be built.

    Raises:
        HubConfigError: A required system lacks a setting or credential; every such problem
            is listed.
    """
    table = OUTBOUND_FACTORIES if factories is None else factories
    built: dict[str, Connector] = {}
    problems: list[str] = []
    for name, config in governance.active_systems().items():
        if name in inbound:
            connector = inbound[name].connector
            if connector.handlers:
                built[name] = connector
            continue
        factory = table.get(config.kind)
        if factory is None:
            get_logger("crossdock.hub.outbound").warning(
                "no outbound connector for this kind yet; commands to it wait in the outbox",
                system=name,
                kind=str(config.kind),
            )
            continue
        found: list[str] = []
        try:
            built[name] = factory(InboundBuild(name, config, http, environ))
        except HubConfigError as exc:
            found = exc.problems
        except (ValueError, TypeError) as exc:
            found = [f"systems.{name}: {exc}"]
        if found and name in required:
            problems += found
        elif found:
            get_logger("crossdock.hub.outbound").warning(
                "cannot send to this system; its commands wait in the outbox",
                system=name,
                problems=found,
            )
    if problems:
        raise HubConfigError(problems)
    return built


def system_roles(governance: Governance) -> dict[str, frozenset[str]]:
    """Return the catalogue roles each system plays in ``[flows.order_fulfilment]``.

    A system may play several (Salesforce is a channel and the CRM).
    """
    roles: dict[str, set[str]] = {}
    flow = governance.flows.order_fulfilment
    if flow is not None:
        roles.setdefault(flow.erp, set()).add("erp")
        if flow.crm:
            roles.setdefault(flow.crm, set()).add("crm")
        if flow.tracking:
            roles.setdefault(flow.tracking, set()).add("tracking")
        for channel in flow.channels:
            roles.setdefault(channel, set()).add("channel")
        for rule in flow.routing:
            roles.setdefault(rule.warehouse, set()).add("warehouse")
    return {name: frozenset(found) for name, found in roles.items()}


_ROLES_OF_KIND: dict[str, tuple[str, ...]] = {}
for _spec in CATALOGUE:
    _ROLES_OF_KIND[_spec.kind] = (*_ROLES_OF_KIND.get(_spec.kind, ()), _spec.role)


def role_for(kind: str, roles: frozenset[str]) -> str | None:
    """Return the catalogue role under which a system with `roles` performs `kind`.

    None when the kind is not in the catalogue (a connector's own kind, such as
    ``inventory.set``) or no role of the system serves it: such a command completes with no
    result event. A kind only one role serves needs no role from the flow's configuration.
    """
    serving = _ROLES_OF_KIND.get(kind, ())
    if len(serving) == 1:
        return serving[0]
    matching = [role for role in serving if role in roles]
    return matching[0] if len(matching) == 1 else None


def _consumer_as_account(customer: Mapping[str, Any]) -> dict[str, Any]:
    """A consumer as a one-person business Account (the CRM holds accounts, not persons)."""
    parts = [customer.get("first_name"), customer.get("last_name")]
    name = " ".join(str(p) for p in parts if p) or customer.get("name") or customer.get("email")
    return {**customer, "kind": "business", "account": {"name": str(name or customer["id"])}}


def adapt(command: Command, role: str | None) -> Command:
    """Return `command` as its destination's connector takes it.

    A CRM ``customer.upsert`` of a consumer becomes the upsert of a one-person Account named
    after the consumer (Salesforce's connector writes Accounts of business customers only, and
    the CRM Order needs an Account): every other command is passed as it is.
    """
    if role == "crm" and command.kind == "customer.upsert":
        customer = command.payload.get("customer")
        if isinstance(customer, Mapping) and customer.get("kind") == "consumer":
            payload = {**command.payload, "customer": _consumer_as_account(customer)}
            return dataclasses.replace(command, payload=payload)
    return command


async def shipped_to_date(store: Store, payload: Mapping[str, Any]) -> list[JSONObject] | None:
    """Every unit the flow instance of a ``fulfillment.record`` has seen shipped, per SKU.

    Business Central records fulfilments as cumulative quantities: given these, a retried
    ``fulfillment.record`` posts nothing twice. None when the instance or its shipments are
    unknown.
    """
    instance = payload.get(INSTANCE_FIELD)
    if not isinstance(instance, Mapping):
        return None
    found = await store.get_flow_state(str(instance.get("flow")), str(instance.get("key")))
    state = None if found is None else found.state.get("state")
    shipments = state.get("shipments") if isinstance(state, Mapping) else None
    if not isinstance(shipments, Mapping) or not shipments:
        return None
    totals: dict[str, int] = {}
    for shipment in shipments.values():
        for line in shipment.get("lines") or [] if isinstance(shipment, Mapping) else []:
            if isinstance(line, Mapping) and line.get("sku"):
                sku = str(line["sku"])
                totals[sku] = totals.get(sku, 0) + int(line.get("quantity") or 0)
    return [{"sku": sku, "quantity_shipped": units} for sku, units in totals.items()]


def command_handler(
    connector: Connector, roles: frozenset[str] = frozenset(), *, store: Store | None = None
) -> Handler:
    """Wrap `connector` as a worker handler that also returns the command's result event.

    Args:
        connector: The destination's connector.
        roles: The roles the destination plays (`system_roles`), to pick the result event of a
            kind several roles serve (``customer.upsert``, ``order.cancel``).
        store: The hub's store: with it, a Business Central ``fulfillment.record`` carries the
            order's cumulative shipped quantities (`shipped_to_date`).
    """
    cumulative = store is not None and connector.system == "businesscentral"

    async def handle(claim: ClaimedCommand) -> HandlerResult:
        role = role_for(claim.command.kind, roles)
        command = adapt(claim.command, role)
        if (
            cumulative
            and store is not None
            and command.kind == "fulfillment.record"
            and "shipped_to_date" not in command.payload
        ):
            totals = await shipped_to_date(store, command.payload)
            if totals is not None:
                payload = {**command.payload, "shipped_to_date": totals}
                command = dataclasses.replace(command, payload=payload)
        result = await connector.perform(command, attempt=claim.attempt)
        if role is None:
            return HandlerResult(result=result)
        event = result_event(
            kind=command.kind,
            role=role,
            destination=command.destination,
            idempotency_key=command.idempotency_key,
            payload=command.payload,
            result=result,
            correlation_id=command.correlation_id,
        )
        return HandlerResult(result=result, events=[event])

    return handle
