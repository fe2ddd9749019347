"""Warnings about a valid governance file: things that work but deserve an operator's eye."""

from __future__ import annotations

import os
from collections.abc import Mapping

from crossdock.canonical import registry
from crossdock.governance.model import Governance


def governance_warnings(
    governance: Governance, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Return one line per warning: unset credentials of active systems, attributes nobody owns.

    Credential values are never read out, only whether their variable is set.
    """
    env = os.environ if environ is None else environ
    source = governance.source
    lines = [
        f"{source}: {cred.key}: environment variable {cred.ref.variable} is not set"
        for cred in governance.credential_references()
        if cred.active and not cred.ref.is_set(env)
    ]
    policy = governance.ownership_policy()
    for entity in registry.ENTITY_NAMES:
        unowned = sorted(
            name for name, rule in policy.entities[entity].items() if rule.owner is None
        )
        if unowned:
            lines.append(
                f"{source}: ownership.{entity}: no owner for {', '.join(unowned)}; "
                "changes to them are refused"
            )
    return lines
