"""Ownership enforcement: which attributes of a change a source system may set.

Every attribute of every canonical entity has one authoritative system (its *owner*) and a
*conflict rule* saying what happens when another system changes it:

``owner_wins``
    Only the owner changes the attribute; anyone else's change is refused (and recorded).
``latest_wins``
    The owner's change is always taken; another system's change is taken when it is strictly
    newer than the time the current value was written (so an unknown change time is refused).
``fill_if_empty``
    Another system may supply the value only while the attribute is empty (absent, ``None``,
    ``""`` or an empty collection); once it has a value, only the owner changes it.
``quarantine``
    Another system's change is refused and the change is held for an operator to review.

A non-owner sending the value the attribute already has changes nothing, and is accepted.
`enforce_ownership` is pure: same inputs, same decision; it reads no clock and no store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ConflictRule(StrEnum):
    """What happens when a system that does not own an attribute changes it."""

    OWNER_WINS = "owner_wins"
    LATEST_WINS = "latest_wins"
    FILL_IF_EMPTY = "fill_if_empty"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """The owner of one attribute and its conflict rule (`owner` is None when nobody owns it)."""

    owner: str | None
    rule: ConflictRule = ConflictRule.OWNER_WINS


@dataclass(frozen=True, slots=True)
class OwnershipPolicy:
    """Ownership of every attribute of every entity: ``entities[entity][attribute]``."""

    entities: Mapping[str, Mapping[str, AttributeRule]]

    def rule_for(self, entity: str, attribute: str) -> AttributeRule | None:
        """Return the rule of ``entity.attribute``, or None when the policy does not know it."""
        return self.entities.get(entity, {}).get(attribute)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One attribute of a change that was not accepted.

    Attributes:
        attribute: The attribute name.
        owner: The system that owns it (None when unowned or unknown).
        rule: The conflict rule applied (None when the attribute is unknown or unowned).
        reason: One line saying why, for example
            ``order.total is owned by netsuite; shopify may not change it (owner_wins)``.
        quarantine: True when the change must be held for review rather than dropped.
    """

    attribute: str
    owner: str | None
    rule: ConflictRule | None
    reason: str
    quarantine: bool = False


@dataclass(frozen=True, slots=True)
class OwnershipDecision:
    """The outcome of `enforce_ownership`.

    Attributes:
        entity: The entity changed.
        source: The system the change came from.
        accepted: The attributes accepted, with their new values.
        refused: One `Refusal` per attribute not accepted, in attribute order.
    """

    entity: str
    source: str
    accepted: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    refused: tuple[Refusal, ...] = ()

    @property
    def accepted_attributes(self) -> frozenset[str]:
        """The names of the accepted attributes."""
        return frozenset(self.accepted)

    @property
    def refused_attributes(self) -> frozenset[str]:
        """The names of the refused attributes."""
        return frozenset(refusal.attribute for refusal in self.refused)

    @property
    def needs_quarantine(self) -> bool:
        """True when at least one refusal asks for the change to be held for review."""
        return any(refusal.quarantine for refusal in self.refused)


def is_empty(value: Any) -> bool:
    """Tell whether a value counts as empty for `ConflictRule.FILL_IF_EMPTY`."""
    if value is None:
        return True
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


def enforce_ownership(
    policy: OwnershipPolicy,
    entity: str,
    source: str,
    change: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    changed_at: datetime | None = None,
    current_changed_at: Mapping[str, datetime] | None = None,
) -> OwnershipDecision:
    """Split a change to an entity from `source` into accepted and refused attributes.

    Args:
        policy: Who owns each attribute, and the conflict rules.
        entity: The canonical entity name, for example ``"order"``.
        source: The system name the change comes from, as declared in the governance file.
        change: The attributes the source wants to set, with their new values.
        current: The entity's current attribute values, ``{}`` for a new entity, or None when
            unknown (then `fill_if_empty` refuses, and no change is recognised as a no-op).
        changed_at: When the source made the change (used by `latest_wins`); timezone-aware.
        current_changed_at: When each current value was written (used by `latest_wins`);
            timezone-aware.

    Returns:
        The decision: every attribute of `change` is either accepted or refused, never both.
    """
    accepted: dict[str, Any] = {}
    refused: list[Refusal] = []
    for attribute in sorted(change):
        value = change[attribute]
        refusal = _judge(
            policy,
            entity,
            source,
            attribute,
            value,
            current=current,
            changed_at=changed_at,
            current_changed_at=current_changed_at or {},
        )
        if refusal is None:
            accepted[attribute] = value
        else:
            refused.append(refusal)
    return OwnershipDecision(
        entity=entity, source=source, accepted=MappingProxyType(accepted), refused=tuple(refused)
    )


def _judge(
    policy: OwnershipPolicy,
    entity: str,
    source: str,
    attribute: str,
    value: Any,
    *,
    current: Mapping[str, Any] | None,
    changed_at: datetime | None,
    current_changed_at: Mapping[str, datetime],
) -> Refusal | None:
    """Return None when the attribute's change is accepted, else the refusal."""
    name = f"{entity}.{attribute}"
    if entity not in policy.entities:
        return Refusal(attribute, None, None, f"{entity} has no ownership policy")
    rule = policy.rule_for(entity, attribute)
    if rule is None:
        return Refusal(attribute, None, None, f"{name} is not an attribute of {entity}")
    if rule.owner is None:
        return Refusal(attribute, None, None, f"{name} has no owner; nobody may change it")
    if source == rule.owner:
        return None
    if current is not None and attribute in current and current[attribute] == value:
        return None  # the value it already has: nothing changes
    return _apply_rule(
        rule,
        name,
        source,
        current=current,
        attribute=attribute,
        changed_at=changed_at,
        written_at=current_changed_at.get(attribute),
    )


def _apply_rule(
    rule: AttributeRule,
    name: str,
    source: str,
    *,
    current: Mapping[str, Any] | None,
    attribute: str,
    changed_at: datetime | None,
    written_at: datetime | None,
) -> Refusal | None:
    owner = rule.owner
    prefix = f"{name} is owned by {owner}; {source}"
    match rule.rule:
        case ConflictRule.OWNER_WINS:
            reason = f"{prefix} may not change it (owner_wins)"
        case ConflictRule.QUARANTINE:
            return Refusal(
                attribute,
                owner,
                rule.rule,
                f"{prefix} may not change it; held for review (quarantine)",
                quarantine=True,
            )
        case ConflictRule.FILL_IF_EMPTY:
            if current is None:
                reason = (
                    f"{prefix} may only fill it when empty; its value is unknown (fill_if_empty)"
                )
            elif is_empty(current.get(attribute)):
                return None
            else:
                reason = f"{prefix} may only fill it when empty; it has a value (fill_if_empty)"
        case ConflictRule.LATEST_WINS:
            if changed_at is None:
                reason = f"{prefix}'s change has no time, so it cannot be the latest (latest_wins)"
            elif written_at is None or changed_at > written_at:
                return None
            else:
                reason = (
                    f"{prefix}'s change ({changed_at.isoformat()}) is not newer than the current "
                    f"value ({written_at.isoformat()}) (latest_wins)"
                )
    return Refusal(attribute, owner, rule.rule, reason)
