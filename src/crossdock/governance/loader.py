"""Load and validate `crossdock.toml`, collecting every problem as one line.

A problem line reads ``<file>: <dotted.key>: <reason>``. Loading never stops at the first problem:
each section is validated on its own, then the checks across sections run on what validated.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from crossdock.governance.checks import check_domains, check_flows, check_ownership, check_systems
from crossdock.governance.credentials import ENV_PREFIX, is_secret_key
from crossdock.governance.domains import DomainConfig
from crossdock.governance.errors import GovernanceError, Problem
from crossdock.governance.flows import FlowsConfig
from crossdock.governance.hub import HubSettings, env_variable, url_has_password
from crossdock.governance.model import EntityOwnershipConfig, Governance
from crossdock.governance.systems import SystemConfig

_M = TypeVar("_M", bound=BaseModel)

SECTIONS = ("hub", "systems", "ownership", "domains", "flows")
_TABLES_OF_TABLES = ("systems", "ownership", "domains")
_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_END = re.compile(r"^(?P<msg>.*) \(at end of document\)$")


def load_governance(path: str | os.PathLike[str]) -> Governance:
    """Load and validate a governance file.

    Environment variables ``CROSSDOCK_<FIELD>`` override `[hub]` fields (for example
    ``CROSSDOCK_DATABASE_URL``). Credentials stay references; nothing secret is read here.

    Raises:
        GovernanceError: The file cannot be read or is invalid; `.errors` lists every problem,
            one line each, naming the file, the key and the reason.
    """
    source = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise GovernanceError(
            source, [Problem("(file)", f"cannot read the file: {reason}")]
        ) from None
    return parse_governance(text, source=source)


def parse_governance(text: str, *, source: str = "<string>") -> Governance:
    """Validate the text of a governance file; `source` names it in error lines.

    Raises:
        GovernanceError: The text is invalid; `.errors` lists every problem.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GovernanceError(source, [_syntax_problem(exc)]) from None
    problems: list[Problem] = []
    governance = _validate(document, problems)
    if problems or governance is None:
        raise GovernanceError(source, _unique(problems))
    governance._source = source
    return governance


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    if match := _TOML_POSITION.match(message):
        key = f"line {match['line']}, column {match['column']}"
        return Problem(key, f"invalid TOML: {match['msg']}")
    if match := _TOML_END.match(message):
        return Problem("end of file", f"invalid TOML: {match['msg']}")
    return Problem("(file)", f"invalid TOML: {message}")


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    kept: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            kept.append(problem)
    return kept


def _validate(document: dict[str, Any], problems: list[Problem]) -> Governance | None:
    for key in document:
        if key not in SECTIONS:
            problems.append(Problem(key, f"unknown section (sections: {', '.join(SECTIONS)})"))
    secret_keys: set[str] = set()
    for problem in _inline_secrets(document):
        problems.append(problem)
        secret_keys.add(problem.key)
    tables = _tables(document, problems)
    parts = _Parts(problems, secret_keys)
    hub = parts.hub(document.get("hub", {}))
    systems = parts.each(tables["systems"], "systems", SystemConfig)
    ownership = parts.each(tables["ownership"], "ownership", EntityOwnershipConfig)
    domains = parts.each(tables["domains"], "domains", DomainConfig)
    flows = parts.one(document.get("flows", {}), "flows", FlowsConfig)
    problems.extend(check_systems(systems, tables["systems"].keys()))
    problems.extend(
        check_ownership(ownership, tables["ownership"].keys(), systems, tables["systems"])
    )
    problems.extend(check_domains(domains))
    if flows is not None:
        problems.extend(check_flows(flows, systems, tables["systems"].keys()))
    if problems or hub is None or flows is None:
        return None
    return Governance(hub=hub, systems=systems, ownership=ownership, domains=domains, flows=flows)


def _tables(document: dict[str, Any], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    """Return the sections that are tables of tables, reporting any that are not."""
    tables: dict[str, dict[str, Any]] = {}
    for section in _TABLES_OF_TABLES:
        value = document.get(section, {})
        if not isinstance(value, dict):
            problems.append(Problem(section, f"must be a table of tables ([{section}.<name>])"))
            value = {}
        tables[section] = value
    if not isinstance(document.get("hub", {}), dict):
        problems.append(Problem("hub", "must be a table ([hub])"))
    return tables


class _Parts:
    """Validates sections one by one, turning pydantic errors into problems."""

    def __init__(self, problems: list[Problem], secret_keys: set[str]) -> None:
        self.problems = problems
        self.secret_keys = secret_keys

    def hub(self, raw: Any) -> HubSettings | None:
        if not isinstance(raw, dict):
            return None
        try:
            return HubSettings(**raw)
        except ValidationError as exc:
            self._report(exc, "hub", raw, env_overrides=True)
            return None

    def each(self, raw: dict[str, Any], section: str, model: type[_M]) -> dict[str, _M]:
        valid: dict[str, _M] = {}
        for name, value in raw.items():
            item = self.one(value, f"{section}.{name}", model)
            if item is not None:
                valid[name] = item
        return valid

    def one(self, raw: Any, prefix: str, model: type[_M]) -> _M | None:
        if not isinstance(raw, dict):
            self.problems.append(Problem(prefix, f"must be a table, not {_type_name(raw)}"))
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self._report(exc, prefix, raw)
            return None

    def _report(
        self, exc: ValidationError, prefix: str, raw: Any, *, env_overrides: bool = False
    ) -> None:
        for error in exc.errors(include_url=False, include_input=False):
            problem = _describe(error, prefix, raw)
            if any(problem.key == s or problem.key.startswith(f"{s}.") for s in self.secret_keys):
                continue  # already reported as an inline secret
            if env_overrides and error["loc"]:
                variable = env_variable(str(error["loc"][0]))
                if os.environ.get(variable):
                    problem = Problem(
                        problem.key, f"{problem.reason} (from environment variable {variable})"
                    )
            self.problems.append(problem)


def _describe(error: ErrorDetails, prefix: str, raw: Any) -> Problem:
    """Turn one pydantic error into a problem with a dotted key and a plain reason."""
    key = _dotted(prefix, error["loc"], raw)
    ctx = error.get("ctx", {})
    tag_key = str(ctx.get("discriminator", "kind")).strip("'")
    if error["type"] == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        reason = f"unknown {tag_key} {ctx.get('tag')!r} (expected: {expected})"
        return Problem(f"{key}.{tag_key}", reason)
    if error["type"] == "union_tag_not_found":
        return Problem(f"{key}.{tag_key}", _REASONS["missing"])
    return Problem(key, _reason(error["type"], error["msg"]))


def _dotted(prefix: str, loc: tuple[int | str, ...], raw: Any) -> str:
    """Join a pydantic error location into a dotted key, dropping union tags pydantic adds."""
    key = prefix
    node = raw
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # the discriminator tag of a tagged union, not a key of the file
        key = f"{key}.{part}" if key else part
        node = node.get(part) if isinstance(node, dict) else None
    return key


_REASONS = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _reason(error_type: str, message: str) -> str:
    if error_type in _REASONS:
        return _REASONS[error_type]
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        list: "an array",
    }
    return names.get(type(value), type(value).__name__)


def _inline_secrets(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Find secrets written into the file rather than referenced from the environment."""
    hub = document.get("hub")
    if isinstance(hub, dict):
        url = hub.get("database_url")
        if isinstance(url, str) and url_has_password(url):
            yield Problem(
                "hub.database_url",
                "a password is written inline; set CROSSDOCK_DATABASE_URL in the environment",
            )
        yield from _walk_secrets(hub, "hub", "CROSSDOCK")
    systems = document.get("systems")
    if isinstance(systems, dict):
        for name, system in systems.items():
            if isinstance(system, dict):
                yield from _system_secrets(name, system)
    flows = document.get("flows")
    if isinstance(flows, dict):
        yield from _walk_secrets(flows, "flows", "CROSSDOCK")


def _system_secrets(name: str, system: dict[str, Any]) -> Iterator[Problem]:
    prefix = f"systems.{name}"
    url = system.get("base_url")
    if isinstance(url, str) and url_has_password(url):
        yield Problem(f"{prefix}.base_url", "a password is written inline; use credentials instead")
    credentials = system.get("credentials")
    if isinstance(credentials, dict):
        for key, value in credentials.items():
            if isinstance(value, str) and not value.startswith(ENV_PREFIX):
                yield _inline(f"{prefix}.credentials.{key}", name, key)
    rest = {key: value for key, value in system.items() if key != "credentials"}
    yield from _walk_secrets(rest, prefix, name)


def _walk_secrets(table: Mapping[str, Any], prefix: str, system: str) -> Iterator[Problem]:
    for key, value in table.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict):
            yield from _walk_secrets(value, path, system)
        elif isinstance(value, str) and is_secret_key(key) and not value.startswith(ENV_PREFIX):
            yield _inline(path, system, key)


def _inline(key: str, system: str, name: str) -> Problem:
    variable = re.sub(r"[^A-Z0-9]+", "_", f"{system}_{name}".upper()).strip("_")
    return Problem(
        key,
        f'secret written inline; reference an environment variable instead, e.g. "env:{variable}"',
    )
