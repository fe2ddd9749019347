"""The SuiteQL subset the simulator answers: one table, simple conditions, ORDER BY, paging.

``SELECT <cols | *> FROM <table> [WHERE <cond> [AND <cond>]...] [ORDER BY <col> [ASC|DESC], ...]``
where a condition is ``col <op> value`` (``= != <> < <= > >=``) or ``col IN (v, ...)`` and a
value is a quoted string, a number, or ``TO_TIMESTAMP('YYYY-MM-DD HH24:MI:SS', '<that format>')``.
Tables: ``transaction``, ``inventoryitemlocations``, ``item``, ``customer``, ``location``.
Anything else is refused with 400 INVALID_PARAMETER, as NetSuite refuses a query it cannot run.
Values come back as strings and column names in lower case, as NetSuite returns them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossdock.sandbox.netsuite._erp import TRAN_TYPES, Erp
from crossdock.sandbox.netsuite._errors import NetSuiteError

TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_PY_FORMAT = "%Y-%m-%d %H:%M:%S"
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"select", "from", "where", "and", "order", "by", "asc", "desc", "in"}

Row = dict[str, Any]
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def render_time(moment: datetime) -> str:
    """How the simulator writes a date-time column (the format ``TO_TIMESTAMP`` reads back)."""
    return moment.astimezone(UTC).strftime(_PY_FORMAT)


def refuse(detail: str) -> NetSuiteError:
    """NetSuite's answer to a query it cannot run."""
    return NetSuiteError(
        400,
        "INVALID_PARAMETER",
        "Invalid search query. Detailed unprocessed description follows. " + detail,
    )


@dataclass(frozen=True)
class Condition:
    """``column op value`` (``op`` is ``in`` with a tuple of values)."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    """A parsed statement."""

    columns: tuple[str, ...]
    table: str
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str]] = []
        pos, text = 0, text.strip().rstrip(";")
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise refuse(f"Search error occurred: unexpected text at {text[pos : pos + 20]!r}.")
            kind = match.lastgroup or ""
            self.items.append((kind, match.group(kind)))
            pos = match.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise refuse("Search error occurred: the statement ends too early.")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "ident" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise refuse(f"Search error occurred: expected {word.upper()}.")

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token == ("punct", char):
            self.pos += 1
            return True
        return False

    def ident(self) -> str:
        kind, value = self.next()
        if kind != "ident" or value.lower() in _KEYWORDS:
            raise refuse(f"Search error occurred: expected a name, found {value!r}.")
        return value.lower()


def parse(text: str) -> Query:
    """Parse one statement of the subset.

    Raises:
        NetSuiteError: 400 INVALID_PARAMETER for anything outside it.
    """
    tokens = _Tokens(text)
    if not tokens.keyword("select"):
        raise refuse("Search error occurred: only SELECT statements are supported.")
    columns: list[str] = []
    if tokens.punct("*"):
        columns.append("*")
    else:
        columns.append(tokens.ident())
        while tokens.punct(","):
            columns.append(tokens.ident())
    tokens.expect("from")
    table = tokens.ident()
    where: list[Condition] = []
    if tokens.keyword("where"):
        where.append(_condition(tokens))
        while tokens.keyword("and"):
            where.append(_condition(tokens))
    order: list[tuple[str, bool]] = []
    if tokens.keyword("order"):
        tokens.expect("by")
        while True:
            column = tokens.ident()
            descending = tokens.keyword("desc")
            if not descending:
                tokens.keyword("asc")
            order.append((column, descending))
            if not tokens.punct(","):
                break
    if tokens.peek() is not None:
        raise refuse(f"Search error occurred: unsupported clause at {tokens.peek()[1]!r}.")  # type: ignore[index]
    return Query(tuple(columns), table, tuple(where), tuple(order))


def _condition(tokens: _Tokens) -> Condition:
    column = tokens.ident()
    if tokens.keyword("in"):
        if not tokens.punct("("):
            raise refuse("Search error occurred: IN needs a list.")
        values = [_value(tokens)]
        while tokens.punct(","):
            values.append(_value(tokens))
        if not tokens.punct(")"):
            raise refuse("Search error occurred: IN list not closed.")
        return Condition(column, "in", tuple(values))
    kind, op = tokens.next()
    if kind != "op":
        raise refuse(f"Search error occurred: expected a comparison after {column}.")
    return Condition(column, "!=" if op == "<>" else op, _value(tokens))


def _value(tokens: _Tokens) -> Any:
    kind, value = tokens.next()
    if kind == "str":
        return value[1:-1].replace("''", "'")
    if kind == "num":
        return value
    if kind == "ident" and value.lower() == "to_timestamp":
        if not tokens.punct("("):
            raise refuse("Search error occurred: TO_TIMESTAMP needs arguments.")
        text_kind, text = tokens.next()
        fmt_kind = ""
        if tokens.punct(","):
            fmt_kind, fmt = tokens.next()
            if fmt_kind != "str" or fmt[1:-1].upper() != TIMESTAMP_FORMAT:
                raise refuse(
                    f"Search error occurred: TO_TIMESTAMP format must be {TIMESTAMP_FORMAT}."
                )
        if text_kind != "str" or not tokens.punct(")") or not fmt_kind:
            raise refuse("Search error occurred: use TO_TIMESTAMP('<time>', '<format>').")
        try:
            return datetime.strptime(text[1:-1], _PY_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise refuse(
                f"Search error occurred: {text} does not match {TIMESTAMP_FORMAT}."
            ) from None
    raise refuse(f"Search error occurred: unsupported value {value!r}.")


# -- tables ----------------------------------------------------------------------------------


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _transactions(erp: Erp) -> list[Row]:
    rows = []
    for kind, (code, _) in TRAN_TYPES.items():
        for record_id, record in erp.records[kind].items():
            status = record.get("status") or {}
            rows.append(
                {
                    "id": int(record_id),
                    "tranid": record.get("tranId"),
                    "type": code,
                    "status": status.get("id"),
                    "externalid": record.get("externalId"),
                    "entity": int(record["entity"]["id"]) if record.get("entity") else None,
                    "trandate": record.get("tranDate"),
                    "createddate": _parse_iso(record["createdDate"]),
                    "lastmodifieddate": _seconds(erp.modified[(kind, record_id)]),
                    "foreigntotal": record.get("total"),
                    "createdfrom": int(record["createdFrom"]["id"])
                    if record.get("createdFrom")
                    else None,
                }
            )
    return rows


def _balances(erp: Erp) -> list[Row]:
    return [
        {
            "item": int(item),
            "location": int(location),
            "quantityonhand": stock.on_hand,
            "quantitycommitted": stock.committed,
            "quantityavailable": stock.available,
            "quantitybackordered": sum(
                line["quantityBackOrdered"]
                for _, line in erp.backorders()
                if (line["item"]["id"], line["location"]["id"]) == (item, location)
            ),
            "lastmodifieddate": _seconds(stock.modified),
        }
        for (item, location), stock in erp.stock.items()
    ]


def _items(erp: Erp) -> list[Row]:
    return [
        {
            "id": int(record_id),
            "itemid": record.get("itemId"),
            "externalid": record.get("externalId"),
            "displayname": record.get("displayName"),
            "lastmodifieddate": _seconds(erp.modified[("inventoryItem", record_id)]),
        }
        for record_id, record in erp.records["inventoryItem"].items()
    ]


def _customers(erp: Erp) -> list[Row]:
    return [
        {
            "id": int(record_id),
            "entityid": record.get("entityId") or record.get("companyName"),
            "externalid": record.get("externalId"),
            "companyname": record.get("companyName"),
            "email": record.get("email"),
            "lastmodifieddate": _seconds(erp.modified[("customer", record_id)]),
        }
        for record_id, record in erp.records["customer"].items()
    ]


def _locations(erp: Erp) -> list[Row]:
    return [
        {"id": int(record_id), "name": record.get("name")}
        for record_id, record in erp.records["location"].items()
    ]


TABLES: dict[str, Callable[[Erp], list[Row]]] = {
    "transaction": _transactions,
    "inventoryitemlocations": _balances,
    "item": _items,
    "customer": _customers,
    "location": _locations,
}


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _coerce(sample: Any, value: Any) -> Any:
    if isinstance(sample, datetime):
        if not isinstance(value, datetime):
            raise refuse("Search error occurred: compare a date with TO_TIMESTAMP(...).")
        return value
    if isinstance(sample, int) and not isinstance(sample, bool):
        try:
            return int(str(value))
        except ValueError:
            raise refuse(f"Search error occurred: {value!r} is not a number.") from None
    return value if isinstance(value, datetime) else str(value)


def _matches(row: Row, condition: Condition) -> bool:
    actual = row[condition.column]
    if actual is None:
        return False
    if condition.op == "in":
        return actual in {_coerce(actual, v) for v in condition.value}
    wanted = _coerce(actual, condition.value)
    if not isinstance(actual, datetime | int):
        actual = str(actual)
    return bool(_OPERATORS[condition.op](actual, wanted))


def _text(value: Any) -> str:
    return render_time(value) if isinstance(value, datetime) else str(value)


def run(erp: Erp, text: str) -> list[dict[str, str]]:
    """Run a statement; every row's values as strings, null columns left out.

    Raises:
        NetSuiteError: 400 INVALID_PARAMETER for an unsupported statement, table or column.
    """
    query = parse(text)
    table = TABLES.get(query.table)
    if table is None:
        raise refuse(f"Search error occurred: Record '{query.table}' was not found.")
    rows = table(erp)
    known = _columns_of(query.table)
    used = [c for c in query.columns if c != "*"]
    used += [c.column for c in query.where] + [column for column, _ in query.order]
    for column in used:
        if column not in known:
            raise refuse(
                f"Search error occurred: Field '{column}' for record '{query.table}' was not found."
            )
    rows = [row for row in rows if all(_matches(row, c) for c in query.where)]
    default = (("id", False),) if "id" in known else (("item", False), ("location", False))
    for column, descending in reversed(query.order or default):
        rows.sort(key=_by(column), reverse=descending)
    columns = sorted(known) if query.columns == ("*",) else list(query.columns)
    return [{c: _text(row[c]) for c in columns if row[c] is not None} for row in rows]


def _by(column: str) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: _sort_key(row[column])


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, 0)
    if isinstance(value, datetime):
        return (0, value.timestamp())
    if isinstance(value, int | Decimal):
        return (0, value)
    return (1, str(value))


def _columns_of(table: str) -> set[str]:
    return {
        "transaction": {
            "id",
            "tranid",
            "type",
            "status",
            "externalid",
            "entity",
            "trandate",
            "createddate",
            "lastmodifieddate",
            "foreigntotal",
            "createdfrom",
        },
        "inventoryitemlocations": {
            "item",
            "location",
            "quantityonhand",
            "quantitycommitted",
            "quantityavailable",
            "quantitybackordered",
            "lastmodifieddate",
        },
        "item": {"id", "itemid", "externalid", "displayname", "lastmodifieddate"},
        "customer": {"id", "entityid", "externalid", "companyname", "email", "lastmodifieddate"},
        "location": {"id", "name"},
    }[table]
