"""The governance model: one validated `crossdock.toml`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from crossdock.canonical import registry
from crossdock.governance.credentials import SecretRef
from crossdock.governance.domains import DomainConfig
from crossdock.governance.errors import SecretResolutionError
from crossdock.governance.flows import FlowName, FlowsConfig
from crossdock.governance.hub import HubSettings
from crossdock.governance.ownership import AttributeRule, ConflictRule, OwnershipPolicy
from crossdock.governance.systems import SystemConfig


class EntityOwnershipConfig(BaseModel):
    """Who owns the attributes of one entity (`[ownership.<entity>]`).

    Attributes:
        default_owner: The system owning every attribute not listed in `owners`, if any.
        rule: The conflict rule of every attribute not listed in `rules`.
        owners: System name to the attributes it owns; an attribute appears in one list only.
        rules: Attribute name to its conflict rule, where it differs from `rule`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_owner: str | None = None
    rule: ConflictRule = ConflictRule.OWNER_WINS
    owners: dict[str, list[str]] = Field(default_factory=dict)
    rules: dict[str, ConflictRule] = Field(default_factory=dict)

    def owner_of(self, attribute: str) -> str | None:
        """Return the system owning `attribute` (the first claim, else the default owner)."""
        for system, attributes in self.owners.items():
            if attribute in attributes:
                return system
        return self.default_owner

    def attribute_rules(self, attributes: frozenset[str]) -> dict[str, AttributeRule]:
        """Return the owner and conflict rule of each of `attributes`."""
        return {
            name: AttributeRule(self.owner_of(name), self.rules.get(name, self.rule))
            for name in sorted(attributes)
        }


@dataclass(frozen=True, slots=True)
class CredentialReference:
    """A credential of a system: its dotted key, the reference, and whether the system is active."""

    key: str
    system: str
    name: str
    ref: SecretRef
    active: bool


class Governance(BaseModel):
    """A validated governance file. Build it with `crossdock.governance.load_governance`.

    Attributes:
        hub: The hub's own settings.
        systems: Connected systems by name.
        ownership: Attribute ownership by canonical entity name.
        domains: Data domains by name, with their sync pattern and service level.
        flows: The flows that run and their options.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hub: HubSettings = Field(default_factory=HubSettings)
    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    ownership: dict[str, EntityOwnershipConfig] = Field(default_factory=dict)
    domains: dict[str, DomainConfig] = Field(default_factory=dict)
    flows: FlowsConfig = Field(default_factory=FlowsConfig)

    _source: str = PrivateAttr(default="<memory>")

    @property
    def source(self) -> str:
        """The file this governance was loaded from."""
        return self._source

    def active_systems(self) -> dict[str, SystemConfig]:
        """Return the systems in use (declared and not ``active = false``)."""
        return {name: system for name, system in self.systems.items() if system.active}

    def enabled_flows(self) -> tuple[FlowName, ...]:
        """Return the names of the flows that run."""
        return self.flows.enabled()

    def ownership_policy(self) -> OwnershipPolicy:
        """Return the ownership of every attribute of every canonical entity, for enforcement."""
        entities: dict[str, Mapping[str, AttributeRule]] = {}
        for entity in registry.ENTITY_NAMES:
            config = self.ownership.get(entity, EntityOwnershipConfig())
            rules = config.attribute_rules(registry.entity_attributes(entity))
            entities[entity] = MappingProxyType(rules)
        return OwnershipPolicy(MappingProxyType(entities))

    def credential_references(self) -> Iterator[CredentialReference]:
        """Yield every credential reference of every system, in file order."""
        for system_name, system in self.systems.items():
            for name, ref in system.credentials.items():
                yield CredentialReference(
                    key=f"systems.{system_name}.credentials.{name}",
                    system=system_name,
                    name=name,
                    ref=ref,
                    active=system.active,
                )

    def credential(
        self, system: str, name: str, environ: Mapping[str, str] | None = None
    ) -> SecretStr:
        """Resolve a system's credential from the environment, now (never earlier, never logged).

        Raises:
            KeyError: No such system or credential is declared.
            SecretResolutionError: The environment variable is not set; the message names the
                key and the variable, never a value.
        """
        try:
            return self.systems[system].credential(name, environ)
        except SecretResolutionError as exc:
            raise SecretResolutionError(f"{self.source}: systems.{system}.{exc}") from None
