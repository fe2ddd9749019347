"""The SOQL subset the simulator answers; anything else is refused with MALFORMED_QUERY.

Grammar (keywords in any case)::

    SELECT field [, field]* FROM Type
      [WHERE cond [AND cond]*]
      [ORDER BY field [ASC|DESC]]
      [LIMIT n]

    field := Name | Relationship.Name                 (one level of parent relationship)
    cond  := field = value | field != value | field IN (value [, value]*)
    value := 'text' (backslash escapes) | number | true | false | null

No OR, no parentheses in conditions, no sub-queries, no aggregates, no date literals.
Text compares case-insensitively, as SOQL does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossdock.sandbox.salesforce._errors import SalesforceError
from crossdock.sandbox.salesforce._schema import OBJECTS

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>!=|=|,|\(|\))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))"
)


@dataclass(frozen=True)
class Condition:
    """``field op values`` (``op`` is ``=``, ``!=`` or ``IN``)."""

    field: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[str, bool] | None = None
    limit: int | None = None


def _malformed(message: str) -> SalesforceError:
    return SalesforceError("MALFORMED_QUERY", message)


def tokenize(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens: ``str``, ``num``, ``op``, ``word``."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise _malformed(f"unexpected token: '{text[pos:].split()[0]}'")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _malformed("unexpected end of query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            token = self.peek()
            raise _malformed(f"unexpected token: '{token[1] if token else 'EOF'}', expected {word}")

    def name(self) -> str:
        kind, text = self.take()
        if kind != "word":
            raise _malformed(f"unexpected token: '{text}'")
        return text

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "num":
            return Decimal(text)
        if kind == "word" and text.lower() in {"true", "false"}:
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise _malformed(f"unexpected token: '{text}'")

    def condition(self) -> Condition:
        field = self.name()
        if self.keyword("IN"):
            if self.take() != ("op", "("):
                raise _malformed("expected ( after IN")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.take()
                values.append(self.value())
            if self.take() != ("op", ")"):
                raise _malformed("expected ) to close IN")
            return Condition(field, "IN", tuple(values))
        kind, op = self.take()
        if kind != "op" or op not in {"=", "!="}:
            raise _malformed(f"unexpected token: '{op}' (only =, != and IN are supported)")
        return Condition(field, op, (self.value(),))

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields = [self.name()]
        while self.peek() == ("op", ","):
            self.take()
            fields.append(self.name())
        self.expect_keyword("FROM")
        sobject = self.name()
        where: list[Condition] = []
        if self.keyword("WHERE"):
            where.append(self.condition())
            while self.keyword("AND"):
                where.append(self.condition())
        order_by = None
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            column = self.name()
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
            order_by = (column, descending)
        limit = None
        if self.keyword("LIMIT"):
            kind, text = self.take()
            if kind != "num" or not text.isdigit():
                raise _malformed(f"unexpected token: '{text}' after LIMIT")
            limit = int(text)
        if self.peek() is not None:
            raise _malformed(f"unexpected token: '{self.take()[1]}'")
        return Query(tuple(fields), sobject, tuple(where), order_by, limit)


def parse(text: str) -> Query:
    """Parse ``text``; MALFORMED_QUERY, INVALID_TYPE or INVALID_FIELD when it cannot run."""
    query = _Parser(text).parse()
    spec = OBJECTS.get(query.sobject)
    if spec is None:
        raise SalesforceError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
    columns = [*query.fields, *(c.field for c in query.where)]
    if query.order_by is not None:
        columns.append(query.order_by[0])
    for column in columns:
        _check_column(query.sobject, column)
    return query


def _check_column(sobject: str, column: str) -> None:
    spec = OBJECTS[sobject]
    relationship, _, name = column.rpartition(".")
    if relationship:
        lookup = spec.relationships().get(relationship)
        if lookup is None or lookup.ref is None or name not in OBJECTS[lookup.ref].fields:
            raise SalesforceError(
                "INVALID_FIELD", f"No such column '{column}' on entity '{sobject}'.", [column]
            )
    elif name not in spec.fields:
        raise SalesforceError(
            "INVALID_FIELD", f"No such column '{column}' on entity '{sobject}'.", [column]
        )


Resolver = Callable[[str, str], dict[str, Any] | None]
"""``(sobject, id)`` to the record, or None."""


def _get(record: dict[str, Any], sobject: str, column: str, resolve: Resolver) -> Any:
    relationship, _, name = column.rpartition(".")
    if not relationship:
        return record.get(name)
    lookup = OBJECTS[sobject].relationships()[relationship]
    assert lookup.ref is not None
    parent_id = record.get(lookup.name)
    parent = resolve(lookup.ref, parent_id) if parent_id else None
    return parent.get(name) if parent is not None else None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, Decimal | int) and isinstance(right, Decimal | int):
        return Decimal(left) == Decimal(right)
    return bool(left == right)


def _matches(record: dict[str, Any], query: Query, resolve: Resolver) -> bool:
    for cond in query.where:
        value = _get(record, query.sobject, cond.field, resolve)
        hit = any(_same(value, wanted) for wanted in cond.values)
        if hit == (cond.op == "!="):
            return False
    return True


def run(
    query: Query, records: list[dict[str, Any]], resolve: Resolver, api_version: str
) -> dict[str, Any]:
    """The query result: ``{"totalSize", "done": true, "records": [...]}``."""
    rows = [r for r in records if _matches(r, query, resolve)]
    if query.order_by is not None:
        column, descending = query.order_by
        rows.sort(
            key=lambda r: (
                _get(r, query.sobject, column, resolve) is None,
                str(_get(r, query.sobject, column, resolve) or ""),
            ),
            reverse=descending,
        )
    if query.limit is not None:
        rows = rows[: query.limit]
    return {
        "totalSize": len(rows),
        "done": True,
        "records": [_shape(r, query, resolve, api_version) for r in rows],
    }


def _attributes(sobject: str, record_id: str, api_version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{api_version}/sobjects/{sobject}/{record_id}"}


def _shape(
    record: dict[str, Any], query: Query, resolve: Resolver, api_version: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": _attributes(query.sobject, record["Id"], api_version)}
    for column in query.fields:
        relationship, _, name = column.rpartition(".")
        if not relationship:
            out[name] = record.get(name)
            continue
        lookup = OBJECTS[query.sobject].relationships()[relationship]
        assert lookup.ref is not None
        parent_id = record.get(lookup.name)
        parent = resolve(lookup.ref, parent_id) if parent_id else None
        if parent is None:
            out[relationship] = None
            continue
        nested = out.get(relationship)
        if not isinstance(nested, dict):
            nested = {"attributes": _attributes(lookup.ref, parent["Id"], api_version)}
            out[relationship] = nested
        nested[name] = parent.get(name)
    return out
