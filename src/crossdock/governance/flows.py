"""The `[flows.<name>]` tables: which business flows run, and their options.

A flow runs when its table is present and ``enabled`` is not false. Flows name systems by role
(an ERP, a warehouse, ...); the loader checks each name is a declared, active system of that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from crossdock.governance.systems import Role


class FlowName(StrEnum):
    """The business flows Crossdock runs."""

    ORDER_FULFILMENT = "order_fulfilment"
    INVENTORY = "inventory"
    CATALOG = "catalog"
    CUSTOMERS = "customers"
    RETURNS = "returns"
    RECONCILIATION = "reconciliation"


@dataclass(frozen=True, slots=True)
class SystemReference:
    """A system named by a flow option: the option's key, the system name and the role it plays."""

    key: str
    system: str
    role: Role | None


class _Flow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        return iter(())


def _refs(key: str, systems: list[str], role: Role | None) -> Iterator[SystemReference]:
    for index, system in enumerate(systems):
        yield SystemReference(f"{key}[{index}]", system, role)


def _check_countries(value: list[str]) -> list[str]:
    bad = [code for code in value if len(code) != 2 or not code.isalpha() or not code.isupper()]
    if bad:
        raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}")
    return value


class RoutingRule(BaseModel):
    """Send an order to `warehouse` when it matches; empty lists match anything.

    Attributes:
        warehouse: The warehouse (3PL) system.
        countries: Ship-to countries (ISO 3166-1 alpha-2) this rule matches.
        channels: Order channels (system names) this rule matches.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    warehouse: str
    countries: Annotated[list[str], AfterValidator(_check_countries)] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)

    @property
    def matches_everything(self) -> bool:
        """True for a catch-all rule."""
        return not self.countries and not self.channels


class OrderFulfilmentFlow(_Flow):
    """Order to cash to fulfilment: channel order → ERP sales order → warehouse → tracking.

    Attributes:
        erp: The ERP that records orders and their financials.
        channels: The systems orders are captured in.
        crm: The CRM that gets order context for service, if any.
        tracking: The tracking aggregator for shipments, if any.
        routing: Warehouse routing rules, first match wins; the last must match everything.
        backorder: What to do when stock is short: ``hold`` the order until it is all there,
            ``split`` (release what is in stock, the rest later) or ``cancel_line`` (release
            what is in stock, cancel and refund the rest).
        fraud_hold_tags: Order tags (case-insensitive) that hold an order for review (None:
            the flow's defaults).
        fraud_max_total: Orders whose total is above this amount are held for review.
        fraud_country_mismatch_above: Orders whose billing and shipping countries differ
            and whose total is above this amount are held for review.
        edit_quantities_until: Until when a channel's quantity edit of an order reaches the
            ERP: ``release`` (until the order is released to a warehouse) or ``erp`` (never
            once the ERP sales order is asked for: such an edit is rejected).
    """

    erp: str
    channels: list[str] = Field(min_length=1)
    crm: str | None = None
    tracking: str | None = None
    routing: list[RoutingRule] = Field(min_length=1)
    backorder: Literal["hold", "split", "cancel_line"] = "hold"
    fraud_hold_tags: list[str] | None = None
    fraud_max_total: Annotated[Decimal, Field(ge=0)] | None = None
    fraud_country_mismatch_above: Annotated[Decimal, Field(ge=0)] | None = None
    edit_quantities_until: Literal["release", "erp"] = "release"

    @field_validator("routing")
    @classmethod
    def _catch_all(cls, value: list[RoutingRule]) -> list[RoutingRule]:
        if not value[-1].matches_everything:
            raise ValueError(
                "the last routing rule must match every order (no countries, no channels), "
                "so that no order is left without a warehouse"
            )
        return value

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield SystemReference("erp", self.erp, Role.ERP)
        yield from _refs("channels", self.channels, Role.CHANNEL)
        if self.crm is not None:
            yield SystemReference("crm", self.crm, Role.CRM)
        if self.tracking is not None:
            yield SystemReference("tracking", self.tracking, Role.TRACKING)
        for index, rule in enumerate(self.routing):
            yield SystemReference(f"routing[{index}].warehouse", rule.warehouse, Role.WAREHOUSE)
            yield from _refs(f"routing[{index}].channels", rule.channels, Role.CHANNEL)


class InventoryFlow(_Flow):
    """Stock: ERP and warehouse signals → available-to-promise → channels.

    Attributes:
        erp: The ERP that holds the inventory of record.
        warehouses: Warehouses whose stock signals (on hand, shipped) are taken.
        publish_to: Channels that receive available quantities.
        safety_stock: Units held back from every SKU at every location when publishing.
    """

    erp: str
    warehouses: list[str] = Field(default_factory=list)
    publish_to: list[str] = Field(default_factory=list)
    safety_stock: int = Field(default=0, ge=0)

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield SystemReference("erp", self.erp, Role.ERP)
        yield from _refs("warehouses", self.warehouses, Role.WAREHOUSE)
        yield from _refs("publish_to", self.publish_to, Role.CHANNEL)


class CatalogFlow(_Flow):
    """Products and prices: product master → channels.

    Attributes:
        source: The system mastering products and prices (the ERP).
        publish_to: Channels that receive products and prices.
    """

    source: str
    publish_to: list[str] = Field(default_factory=list)

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield SystemReference("source", self.source, Role.ERP)
        yield from _refs("publish_to", self.publish_to, Role.CHANNEL)


class CustomersFlow(_Flow):
    """Customer accounts between the CRM, the channels and the ERP.

    Attributes:
        crm: The CRM holding business accounts.
        channels: Channels whose (consumer) customers are synchronised.
        erp: The ERP that needs customer records for invoicing, if any.
    """

    crm: str
    channels: list[str] = Field(default_factory=list)
    erp: str | None = None

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield SystemReference("crm", self.crm, Role.CRM)
        yield from _refs("channels", self.channels, Role.CHANNEL)
        if self.erp is not None:
            yield SystemReference("erp", self.erp, Role.ERP)


class ReturnsFlow(_Flow):
    """Returns: request in a channel → authorisation in the ERP → receipt at a warehouse → refund.

    Attributes:
        erp: The ERP that authorises returns and refunds.
        channels: Channels where returns are requested.
        warehouses: Warehouses that receive returned goods.
    """

    erp: str
    channels: list[str] = Field(default_factory=list)
    warehouses: list[str] = Field(default_factory=list)

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield SystemReference("erp", self.erp, Role.ERP)
        yield from _refs("channels", self.channels, Role.CHANNEL)
        yield from _refs("warehouses", self.warehouses, Role.WAREHOUSE)


class ReconciliationFlow(_Flow):
    """Scheduled comparison of each system's records against the hub's, with repair commands.

    Attributes:
        systems: The systems to reconcile.
        schedule: When to run (cron expression, UTC).
    """

    systems: list[str] = Field(min_length=1)
    schedule: str = "0 3 * * *"

    @field_validator("schedule")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"invalid cron expression {value!r}")
        return value

    def references(self) -> Iterator[SystemReference]:
        """Yield every system this flow's options name."""
        yield from _refs("systems", self.systems, None)


class FlowsConfig(BaseModel):
    """The `[flows]` table: one optional table per flow; a flow runs when present and enabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_fulfilment: OrderFulfilmentFlow | None = None
    inventory: InventoryFlow | None = None
    catalog: CatalogFlow | None = None
    customers: CustomersFlow | None = None
    returns: ReturnsFlow | None = None
    reconciliation: ReconciliationFlow | None = None

    def configured(self) -> dict[FlowName, _Flow]:
        """Return the flows that have a table, enabled or not, by name."""
        found: dict[FlowName, _Flow] = {}
        for name in FlowName:
            flow = getattr(self, name.value)
            if flow is not None:
                found[name] = flow
        return found

    def enabled(self) -> tuple[FlowName, ...]:
        """Return the names of the flows that run."""
        return tuple(name for name, flow in self.configured().items() if flow.enabled)
