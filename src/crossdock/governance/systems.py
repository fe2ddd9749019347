"""The `[systems.<name>]` tables: connected systems, credentials, rate budgets and breakers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, SecretStr, field_validator

from crossdock.governance.credentials import EnvRef, SecretRef
from crossdock.governance.durations import Duration
from crossdock.governance.errors import SecretResolutionError


class SystemKind(StrEnum):
    """The kinds of external system Crossdock has a connector for."""

    SHOPIFY = "shopify"
    SALESFORCE = "salesforce"
    NETSUITE = "netsuite"
    BUSINESSCENTRAL = "businesscentral"
    SHIPSTATION = "shipstation"
    EDI = "edi"
    EASYPOST = "easypost"


class Role(StrEnum):
    """What a system does for the retailer; flows name systems by role."""

    CHANNEL = "channel"
    CRM = "crm"
    ERP = "erp"
    WAREHOUSE = "warehouse"
    TRACKING = "tracking"


ROLE_KINDS: dict[Role, frozenset[SystemKind]] = {
    Role.CHANNEL: frozenset({SystemKind.SHOPIFY, SystemKind.SALESFORCE}),
    Role.CRM: frozenset({SystemKind.SALESFORCE}),
    Role.ERP: frozenset({SystemKind.NETSUITE, SystemKind.BUSINESSCENTRAL}),
    Role.WAREHOUSE: frozenset({SystemKind.SHIPSTATION, SystemKind.EDI}),
    Role.TRACKING: frozenset({SystemKind.EASYPOST}),
}

_URL_SCHEMES: dict[SystemKind, frozenset[str]] = {
    SystemKind.EDI: frozenset({"sftp", "ftps", "file"})
}
_HTTP = frozenset({"https", "http"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeakyBucketBudget(_Strict):
    """A leaky bucket: `capacity` requests, draining at `leak_per_second` (Shopify REST)."""

    kind: Literal["leaky_bucket"]
    capacity: int = Field(gt=0)
    leak_per_second: float = Field(gt=0)


class CostBudget(_Strict):
    """A cost bucket of `capacity` points restored at `restore_per_second` (Shopify GraphQL)."""

    kind: Literal["cost"]
    capacity: int = Field(gt=0)
    restore_per_second: float = Field(gt=0)


class ConcurrencyBudget(_Strict):
    """At most `max_in_flight` requests at once (NetSuite account concurrency)."""

    kind: Literal["concurrency"]
    max_in_flight: int = Field(gt=0)


class WindowBudget(_Strict):
    """At most `limit` requests in any sliding `window` (ShipStation 40/min, BC 6000/5 min)."""

    kind: Literal["window"]
    limit: int = Field(gt=0)
    window: Duration


class DailyBudget(_Strict):
    """At most `limit` requests in a rolling 24 hours (Salesforce daily API allocation)."""

    kind: Literal["daily"]
    limit: int = Field(gt=0)

    @property
    def window(self) -> timedelta:
        """The rolling window: one day."""
        return timedelta(days=1)


RateBudget = Annotated[
    LeakyBucketBudget | CostBudget | ConcurrencyBudget | WindowBudget | DailyBudget,
    Field(discriminator="kind"),
]
"""One rate budget; `kind` is leaky_bucket, cost, concurrency, window or daily."""


class BreakerConfig(_Strict):
    """Circuit breaker thresholds for calls to one system.

    Attributes:
        failure_threshold: Consecutive failures that open the circuit.
        open_for: How long the circuit stays open before half-open probes.
        half_open_probes: Probe calls allowed (across all workers) while half-open.
    """

    failure_threshold: int = Field(default=5, gt=0)
    open_for: Duration = timedelta(seconds=30)
    half_open_probes: int = Field(default=1, gt=0)

    @property
    def open_seconds(self) -> float:
        """`open_for` in seconds."""
        return self.open_for.total_seconds()


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("a setting must be a string, number or boolean")


Setting = Annotated[str | int | float | bool, PlainValidator(_scalar)]


class SystemConfig(_Strict):
    """One connected system (`[systems.<name>]`).

    Attributes:
        kind: Which connector speaks to it.
        active: False for a system that is declared (for example an alternative ERP) but not used.
        base_url: Where its API lives (https), or for EDI where files are exchanged (sftp, file).
        api_version: The API version to speak, where the system has one (``2025-07``, ``v62.0``).
        description: Free text for operators.
        credentials: Credential name to environment-variable reference (``"env:NAME"``).
        settings: Non-secret, kind-specific settings (EDI interchange ids, store ids, ...).
        rate_budgets: Named rate budgets, for example ``rest`` and ``graphql``.
        breaker: Circuit breaker thresholds.
    """

    kind: SystemKind
    active: bool = True
    base_url: str
    api_version: str | None = None
    description: str = ""
    credentials: dict[str, EnvRef] = Field(default_factory=dict)
    settings: dict[str, Setting] = Field(default_factory=dict)
    rate_budgets: dict[str, RateBudget] = Field(default_factory=dict)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.password:
            raise ValueError("a password is written inline in the URL; use credentials instead")
        if parts.scheme not in _HTTP | frozenset({"sftp", "ftps", "file"}):
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}; use https")
        if parts.scheme != "file" and not parts.hostname:
            raise ValueError("the URL has no host")
        return value

    def check_url_scheme(self) -> str | None:
        """Return a problem when the URL scheme does not suit the kind, else None."""
        allowed = _URL_SCHEMES.get(self.kind, _HTTP)
        scheme = urlsplit(self.base_url).scheme
        if scheme in allowed:
            return None
        schemes = " or ".join(sorted(allowed))
        return f"kind {self.kind} needs a URL with scheme {schemes}, not {scheme}"

    def credential(self, name: str, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Resolve the credential `name` from the environment, now.

        Raises:
            KeyError: The system declares no credential of that name.
            SecretResolutionError: Its environment variable is not set.
        """
        ref: SecretRef = self.credentials[name]
        try:
            return ref.resolve(environ)
        except SecretResolutionError as exc:
            raise SecretResolutionError(f"credentials.{name}: {exc}") from None

    def has_role(self, role: Role) -> bool:
        """Tell whether this system can play `role`."""
        return self.kind in ROLE_KINDS[role]
