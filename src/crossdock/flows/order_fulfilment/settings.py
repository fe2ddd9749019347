"""The order flow's settings: systems by role from governance, plus fraud and backorder rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crossdock.governance.model import Governance

__all__ = ["BackorderRule", "EditQuantitiesUntil", "FraudRules", "OrderFulfilmentSettings", "Route"]


class BackorderRule(StrEnum):
    """What to do when stock is short (at the release gate, or after a short pick).

    - ``hold``: keep the order until every unit is there, then release it whole (after a
      short pick: the missing units wait and are released as a new warehouse order);
    - ``split``: release what is in stock now; the rest waits and is released as a new
      warehouse order when an ``order.stock_check`` finds it all;
    - ``cancel_line``: release what is in stock; the short units are cancelled (refunded in
      the channel, closed in the ERP once the released part is fulfilled).
    """

    HOLD = "hold"
    SPLIT = "split"
    CANCEL_LINE = "cancel_line"


class EditQuantitiesUntil(StrEnum):
    """Until when a channel's quantity edit (lines added, removed, quantities changed) of an
    order the ERP has is applied and propagated to the ERP.

    - ``release``: until the order is released to a warehouse (stock is checked again for the
      new quantities; a short edit follows the backorder rule); later edits are rejected;
    - ``erp``: never once the ERP sales order is asked for (every such edit is rejected).

    Either way, an edit after release is rejected and shipments are capped at what the
    channel order has open.
    """

    RELEASE = "release"
    ERP = "erp"


@dataclass(frozen=True, slots=True)
class FraudRules:
    """Configurable fraud rules on top of the channel's own risk signals.

    Attributes:
        hold_tags: An order carrying one of these tags (case-insensitive) is held.
        max_total: Orders above this amount (in any currency) are held for review.
        country_mismatch_above: Billing and shipping countries differ and the total is above
            this amount: held.
    """

    hold_tags: frozenset[str] = frozenset({"fraud", "fraud_hold", "high_risk"})
    max_total: Decimal | None = None
    country_mismatch_above: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the rules as JSON data (recorded with golden histories)."""
        return {
            "hold_tags": sorted(self.hold_tags),
            "max_total": None if self.max_total is None else str(self.max_total),
            "country_mismatch_above": None
            if self.country_mismatch_above is None
            else str(self.country_mismatch_above),
        }


@dataclass(frozen=True, slots=True)
class Route:
    """Send orders to `warehouse` when they match; empty tuples match anything."""

    warehouse: str
    countries: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def matches(self, country: str | None, channel_system: str) -> bool:
        """True when the ship-to country and the channel's system name match."""
        if self.countries and country not in self.countries:
            return False
        return not self.channels or channel_system in self.channels


@dataclass(frozen=True, slots=True)
class OrderFulfilmentSettings:
    """Everything the order flow's decisions depend on besides state, event and lookups.

    Attributes:
        erp: The ERP system name.
        channels: The channel system names and their kinds (``shopify``, ``salesforce``).
        routing: Warehouse routing rules, first match wins (the last matches everything).
        crm: The CRM system name, if any.
        tracking: The tracking system name, if any.
        fraud: The fraud rules.
        backorder: The backorder rule.
        release_on: Financial statuses that let an order be released.
        crm_account_field: The CRM Account field holding the hub customer id (its external id).
        crm_statuses: The CRM Order status picklist value of each flow state worth telling
            (states without one only send shipment details, or nothing).
        edit_quantities_until: Until when quantity edits are applied (`EditQuantitiesUntil`).
    """

    erp: str
    channels: Mapping[str, str]
    routing: tuple[Route, ...]
    crm: str | None = None
    tracking: str | None = None
    fraud: FraudRules = field(default_factory=FraudRules)
    backorder: BackorderRule = BackorderRule.HOLD
    release_on: frozenset[str] = frozenset({"paid", "authorized"})
    crm_account_field: str = "ERP_Id__c"
    crm_statuses: Mapping[str, str] = field(default_factory=lambda: {"shipped": "Shipped"})
    edit_quantities_until: EditQuantitiesUntil = EditQuantitiesUntil.RELEASE

    def __post_init__(self) -> None:
        if not self.routing or self.routing[-1].countries or self.routing[-1].channels:
            raise ValueError("the last routing rule must match every order")

    @classmethod
    def from_governance(
        cls,
        governance: Governance,
        *,
        fraud: FraudRules | None = None,
        backorder: BackorderRule | None = None,
        crm_account_field: str = "ERP_Id__c",
        crm_statuses: Mapping[str, str] | None = None,
        edit_quantities_until: EditQuantitiesUntil | None = None,
    ) -> OrderFulfilmentSettings:
        """Build the settings from ``[flows.order_fulfilment]`` of the governance file.

        The backorder rule (``backorder``), the fraud rules (``fraud_hold_tags``,
        ``fraud_max_total``, ``fraud_country_mismatch_above``) and the quantity edit policy
        (``edit_quantities_until``) come from the table; `fraud`, `backorder` and
        `edit_quantities_until`, when given, take precedence over it. The CRM field mapping has no
        keys in the table yet: it comes as arguments (defaults when omitted).

        Raises:
            ValueError: The flow is not configured.
        """
        flow = governance.flows.order_fulfilment
        if flow is None:
            raise ValueError("the governance file has no [flows.order_fulfilment] table")
        if fraud is None:
            fraud = FraudRules(
                hold_tags=frozenset(flow.fraud_hold_tags)
                if flow.fraud_hold_tags is not None
                else FraudRules().hold_tags,
                max_total=flow.fraud_max_total,
                country_mismatch_above=flow.fraud_country_mismatch_above,
            )
        kinds = {name: str(system.kind) for name, system in governance.systems.items()}
        return cls(
            erp=flow.erp,
            channels={name: kinds.get(name, name) for name in flow.channels},
            routing=tuple(
                Route(rule.warehouse, tuple(rule.countries), tuple(rule.channels))
                for rule in flow.routing
            ),
            crm=flow.crm,
            tracking=flow.tracking,
            fraud=fraud,
            backorder=backorder if backorder is not None else BackorderRule(flow.backorder),
            crm_account_field=crm_account_field,
            crm_statuses=dict(crm_statuses) if crm_statuses is not None else {"shipped": "Shipped"},
            edit_quantities_until=edit_quantities_until
            if edit_quantities_until is not None
            else EditQuantitiesUntil(flow.edit_quantities_until),
        )

    def channel_system(self, source_or_channel: str) -> str | None:
        """Return the channel system name of an event source or order channel (``shopify:web``)."""
        prefix = source_or_channel.split(":", 1)[0]
        if prefix in self.channels:
            return prefix
        for name, kind in self.channels.items():
            if kind == prefix:
                return name
        return None

    def warehouse_for(self, country: str | None, channel_system: str) -> str:
        """Return the warehouse of the first matching routing rule."""
        for route in self.routing:
            if route.matches(country, channel_system):
                return route.warehouse
        return self.routing[-1].warehouse

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON data (golden histories record them)."""
        return {
            "erp": self.erp,
            "channels": dict(self.channels),
            "routing": [
                {
                    "warehouse": r.warehouse,
                    "countries": list(r.countries),
                    "channels": list(r.channels),
                }
                for r in self.routing
            ],
            "crm": self.crm,
            "tracking": self.tracking,
            "fraud": self.fraud.to_dict(),
            "backorder": self.backorder.value,
            "release_on": sorted(self.release_on),
            "crm_account_field": self.crm_account_field,
            "crm_statuses": dict(self.crm_statuses),
            "edit_quantities_until": self.edit_quantities_until.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderFulfilmentSettings:
        """Inverse of `to_dict`."""
        fraud = data.get("fraud") or {}
        return cls(
            erp=str(data["erp"]),
            channels=dict(data["channels"]),
            routing=tuple(
                Route(
                    str(r["warehouse"]), tuple(r.get("countries", ())), tuple(r.get("channels", ()))
                )
                for r in data["routing"]
            ),
            crm=data.get("crm"),
            tracking=data.get("tracking"),
            fraud=FraudRules(
                hold_tags=frozenset(fraud.get("hold_tags", FraudRules().hold_tags)),
                max_total=_dec(fraud.get("max_total")),
                country_mismatch_above=_dec(fraud.get("country_mismatch_above")),
            ),
            backorder=BackorderRule(data.get("backorder", "hold")),
            release_on=frozenset(data.get("release_on", ("paid", "authorized"))),
            crm_account_field=str(data.get("crm_account_field", "ERP_Id__c")),
            crm_statuses=dict(data.get("crm_statuses", {"shipped": "Shipped"})),
            edit_quantities_until=EditQuantitiesUntil(
                data.get("edit_quantities_until", EditQuantitiesUntil.RELEASE.value)
            ),
        )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
