"""Governance: the `crossdock.toml` file (systems, ownership, domains, flows) and its enforcement.

Load a file with `load_governance`; an invalid file raises `GovernanceError`, whose `errors` are
one line each. Enforce ownership on a change with `enforce_ownership`.
"""

from crossdock.governance.advice import governance_warnings
from crossdock.governance.credentials import SecretRef, is_secret_key
from crossdock.governance.domains import DomainConfig, SyncPattern
from crossdock.governance.durations import format_duration, parse_duration
from crossdock.governance.errors import GovernanceError, Problem, SecretResolutionError
from crossdock.governance.flows import FlowName, FlowsConfig
from crossdock.governance.hub import HubSettings
from crossdock.governance.loader import load_governance, parse_governance
from crossdock.governance.model import EntityOwnershipConfig, Governance
from crossdock.governance.ownership import (
    AttributeRule,
    ConflictRule,
    OwnershipDecision,
    OwnershipPolicy,
    Refusal,
    enforce_ownership,
)
from crossdock.governance.systems import (
    BreakerConfig,
    ConcurrencyBudget,
    CostBudget,
    DailyBudget,
    LeakyBucketBudget,
    RateBudget,
    Role,
    SystemConfig,
    SystemKind,
    WindowBudget,
)

__all__ = [
    "AttributeRule",
    "BreakerConfig",
    "ConcurrencyBudget",
    "ConflictRule",
    "CostBudget",
    "DailyBudget",
    "DomainConfig",
    "EntityOwnershipConfig",
    "FlowName",
    "FlowsConfig",
    "Governance",
    "GovernanceError",
    "HubSettings",
    "LeakyBucketBudget",
    "OwnershipDecision",
    "OwnershipPolicy",
    "Problem",
    "RateBudget",
    "Refusal",
    "Role",
    "SecretRef",
    "SecretResolutionError",
    "SyncPattern",
    "SystemConfig",
    "SystemKind",
    "WindowBudget",
    "enforce_ownership",
    "format_duration",
    "governance_warnings",
    "is_secret_key",
    "load_governance",
    "parse_duration",
    "parse_governance",
]
