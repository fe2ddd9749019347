"""Checks across sections of a governance file: names that must exist, ownership that must be whole.

Each check is given what validated and what was declared (a system that failed validation is still
declared, so it is not also reported as unknown), and returns `Problem`s.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping

from crossdock.canonical import registry
from crossdock.governance.domains import DomainConfig
from crossdock.governance.errors import Problem
from crossdock.governance.flows import FlowsConfig, SystemReference
from crossdock.governance.model import EntityOwnershipConfig
from crossdock.governance.systems import ROLE_KINDS, SystemConfig

_SYSTEM_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _known(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def check_systems(
    systems: Mapping[str, SystemConfig], declared: Collection[str]
) -> Iterator[Problem]:
    """Check system names and that each URL suits its system's kind."""
    for name in declared:
        if not _SYSTEM_NAME.fullmatch(name):
            yield Problem(
                f"systems.{name}",
                "a system name is lower-case letters, digits and _, starting with a letter",
            )
    for name, system in systems.items():
        problem = system.check_url_scheme()
        if problem:
            yield Problem(f"systems.{name}.base_url", problem)


def _system_problem(
    key: str, system: str, systems: Mapping[str, SystemConfig], declared: Collection[str]
) -> Problem | None:
    if system not in declared:
        return Problem(key, f"unknown system {system!r} (declared: {_known(declared)})")
    config = systems.get(system)
    if config is not None and not config.active:
        return Problem(key, f"system {system!r} is declared with active = false")
    return None


def check_ownership(
    ownership: Mapping[str, EntityOwnershipConfig],
    declared_entities: Collection[str],
    systems: Mapping[str, SystemConfig],
    declared_systems: Collection[str],
) -> Iterator[Problem]:
    """Check every entity has ownership, every owner exists, and each attribute has one owner."""
    for entity in declared_entities:
        if entity not in registry.ENTITY_NAMES:
            yield Problem(
                f"ownership.{entity}",
                f"unknown entity {entity!r} (entities: {', '.join(registry.ENTITY_NAMES)})",
            )
    for entity in registry.ENTITY_NAMES:
        if entity not in declared_entities:
            yield Problem(
                f"ownership.{entity}",
                f"missing: declare who owns the attributes of {entity} "
                f"(required: {_known(registry.required_attributes(entity))})",
            )
        elif entity in ownership:
            yield from _check_entity(entity, ownership[entity], systems, declared_systems)


def _check_entity(
    entity: str,
    config: EntityOwnershipConfig,
    systems: Mapping[str, SystemConfig],
    declared_systems: Collection[str],
) -> Iterator[Problem]:
    prefix = f"ownership.{entity}"
    attributes = registry.entity_attributes(entity)
    if config.default_owner is not None:
        problem = _system_problem(
            f"{prefix}.default_owner", config.default_owner, systems, declared_systems
        )
        if problem:
            yield problem
    first_owner: dict[str, str] = {}
    for system, owned in config.owners.items():
        key = f"{prefix}.owners.{system}"
        problem = _system_problem(key, system, systems, declared_systems)
        if problem:
            yield problem
        for attribute in owned:
            if attribute not in attributes:
                yield Problem(key, _unknown_attribute(entity, attribute, attributes))
            elif attribute in first_owner:
                earlier = first_owner[attribute]
                where = "twice in this list" if earlier == system else f"also by {earlier}"
                yield Problem(key, f"attribute {attribute!r} is owned {where}")
            else:
                first_owner[attribute] = system
    for attribute in config.rules:
        if attribute not in attributes:
            yield Problem(
                f"{prefix}.rules.{attribute}", _unknown_attribute(entity, attribute, attributes)
            )
    if config.default_owner is None:
        for attribute in sorted(registry.required_attributes(entity) - first_owner.keys()):
            yield Problem(
                prefix,
                f"required attribute {attribute!r} has no owner "
                "(list it under owners, or set default_owner)",
            )


def _unknown_attribute(entity: str, attribute: str, attributes: Collection[str]) -> str:
    close = difflib.get_close_matches(attribute, sorted(attributes), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"attributes: {_known(attributes)}"
    return f"unknown attribute {attribute!r} of {entity} ({hint})"


def check_domains(domains: Mapping[str, DomainConfig]) -> Iterator[Problem]:
    """Check every domain names known entities."""
    for name, domain in domains.items():
        for index, entity in enumerate(domain.entities):
            if entity not in registry.ENTITY_NAMES:
                yield Problem(
                    f"domains.{name}.entities[{index}]",
                    f"unknown entity {entity!r} (entities: {', '.join(registry.ENTITY_NAMES)})",
                )


def check_flows(
    flows: FlowsConfig, systems: Mapping[str, SystemConfig], declared_systems: Collection[str]
) -> Iterator[Problem]:
    """Check every system a flow names exists, is active, and can play the role it is named for."""
    for flow_name, flow in flows.configured().items():
        for ref in flow.references():
            key = f"flows.{flow_name}.{ref.key}"
            problem = _system_problem(key, ref.system, systems, declared_systems)
            if problem is None:
                problem = _role_problem(key, ref, systems)
            if problem is not None and (flow.enabled or "unknown system" in problem.reason):
                yield problem


def _role_problem(
    key: str, ref: SystemReference, systems: Mapping[str, SystemConfig]
) -> Problem | None:
    config = systems.get(ref.system)
    if ref.role is None or config is None or config.has_role(ref.role):
        return None
    kinds = ", ".join(sorted(ROLE_KINDS[ref.role]))
    return Problem(
        key,
        f"system {ref.system!r} is a {config.kind} system, not a {ref.role} (use: {kinds})",
    )
