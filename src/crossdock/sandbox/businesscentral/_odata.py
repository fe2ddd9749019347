"""The OData query options the simulator understands, and the paging it does.

A documented subset: ``$filter`` is one or more ``<field> <op> <literal>`` joined by ``and``,
where ``lastModifiedDateTime`` takes ``gt``, ``ge``, ``lt``, ``le`` and ``eq`` with a
``DateTimeOffset`` literal, and the fields in `EQ_FIELDS` take ``eq`` with a quoted string
(``''`` escapes a quote). ``$orderby`` is one field with ``asc`` or ``desc``. ``$top``,
``$skip``, ``$select``, ``$expand`` (the entity's own child collection) and the server's
``$skiptoken`` complete it. Anything else is refused with a ``BadRequest`` error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from crossdock.sandbox.businesscentral._wire import ODataError, parse_datetime

MAX_PAGE_SIZE = 20_000
TIME_FIELD = "lastModifiedDateTime"
EQ_FIELDS = frozenset(
    {
        "id",
        "number",
        "externalDocumentNumber",
        "email",
        "customerNumber",
        "status",
        "orderId",
        "orderNumber",
        "invoiceId",
        "invoiceNumber",
    }
)
_TIME_OPS = {"gt", "ge", "lt", "le", "eq"}
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|gt|ge|lt|le|ne)\s+('(?:[^']|'')*'|[^\s']+)\s*$")
_KNOWN_OPTIONS = {"$filter", "$top", "$skip", "$select", "$orderby", "$expand", "$skiptoken"}

Predicate = Callable[[Mapping[str, Any]], bool]


def bad_request(message: str) -> ODataError:
    """A ``BadRequest`` error (400)."""
    return ODataError(400, "BadRequest", message)


@dataclass(frozen=True)
class Query:
    """Parsed query options."""

    predicates: tuple[Predicate, ...] = ()
    top: int | None = None
    skip: int = 0
    offset: int = 0
    select: tuple[str, ...] = ()
    orderby: tuple[str, bool] | None = None
    expand: tuple[str, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict)

    def matches(self, entity: Mapping[str, Any]) -> bool:
        """Whether ``entity`` passes every filter clause."""
        return all(predicate(entity) for predicate in self.predicates)


def parse_query(params: Mapping[str, str], *, expandable: Sequence[str] = ()) -> Query:
    """Parse the OData options of one request.

    Raises:
        ODataError: An option or filter outside the documented subset (``BadRequest``).
    """
    unknown = [k for k in params if k.startswith("$") and k not in _KNOWN_OPTIONS]
    if unknown:
        raise bad_request(f"The query option '{unknown[0]}' is not supported.")
    token = params.get("$skiptoken")
    offset = decode_skiptoken(token) if token is not None else 0
    expand = _names(params.get("$expand"))
    for name in expand:
        if name not in expandable:
            raise bad_request(f"Could not find a property named '{name}' to expand.")
    return Query(
        predicates=parse_filter(params.get("$filter")),
        top=_integer(params, "$top"),
        skip=_integer(params, "$skip") or 0,
        offset=offset,
        select=_names(params.get("$select")),
        orderby=_orderby(params.get("$orderby")),
        expand=expand,
        raw=dict(params),
    )


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


def _integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise bad_request(f"Invalid value for {name}: '{text}' is not a non-negative integer.")
    return int(text)


def _orderby(text: str | None) -> tuple[str, bool] | None:
    if not text:
        return None
    parts = text.split()
    if "," in text or len(parts) > 2 or (len(parts) == 2 and parts[1] not in {"asc", "desc"}):
        raise bad_request(f"$orderby '{text}' is not supported: one field, asc or desc.")
    return parts[0], len(parts) == 2 and parts[1] == "desc"


def parse_filter(text: str | None) -> tuple[Predicate, ...]:
    """Parse ``$filter`` into predicates (see the module docstring for the subset)."""
    if not text:
        return ()
    return tuple(_clause(part) for part in re.split(r"\s+and\s+", text.strip()))


def _clause(text: str) -> Predicate:
    match = _CLAUSE.match(text)
    if match is None:
        raise bad_request(f"The filter expression '{text}' is not supported.")
    name, op, literal = match.groups()
    if name == TIME_FIELD and op in _TIME_OPS:
        try:
            bound = parse_datetime(literal)
        except ValueError:
            raise bad_request(f"'{literal}' is not a valid DateTimeOffset literal.") from None
        return _time_predicate(op, bound)
    if name in EQ_FIELDS and op == "eq":
        if not (literal.startswith("'") and literal.endswith("'")):
            raise bad_request(f"The value of {name} must be a quoted string.")
        wanted = literal[1:-1].replace("''", "'")
        return lambda entity: str(entity.get(name, "")) == wanted
    raise bad_request(f"Filtering on '{name}' with '{op}' is not supported.")


def _time_predicate(op: str, bound: datetime) -> Predicate:
    def check(entity: Mapping[str, Any]) -> bool:
        moment = parse_datetime(str(entity[TIME_FIELD]))
        return {
            "gt": moment > bound,
            "ge": moment >= bound,
            "lt": moment < bound,
            "le": moment <= bound,
            "eq": moment == bound,
        }[op]

    return check


def encode_skiptoken(offset: int) -> str:
    """The opaque ``$skiptoken`` for a page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii")


def decode_skiptoken(token: str) -> int:
    """The offset a ``$skiptoken`` stands for.

    Raises:
        ODataError: The token was not made by this server.
    """
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise ODataError(400, "BadRequest_InvalidToken", "The skip token is not valid.")
    return int(number)


def page(
    entities: Sequence[dict[str, Any]], query: Query, *, page_size: int, url: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, order, skip and cut one page; return it with its ``@odata.nextLink``."""
    rows = [e for e in entities if query.matches(e)]
    if query.orderby is not None:
        name, descending = query.orderby
        rows.sort(key=lambda e: str(e.get(name, "")), reverse=descending)
    # $skip, then $top, give the result; the server pages through it with $skiptoken.
    result = rows[query.skip :]
    if query.top is not None:
        result = result[: query.top]
    start = query.offset
    end = min(len(result), start + min(page_size, MAX_PAGE_SIZE))
    chosen = result[start:end]
    next_link = None
    if end < len(result):
        kept = {k: v for k, v in query.raw.items() if k != "$skiptoken"}
        kept["$skiptoken"] = encode_skiptoken(end)
        next_link = f"{url}?{urlencode(kept)}"
    return chosen, next_link


def select(entity: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """``entity`` narrowed to ``fields`` (annotations such as ``@odata.etag`` are kept).

    Raises:
        ODataError: A field the entity does not have.
    """
    if not fields:
        return dict(entity)
    for name in fields:
        if name not in entity:
            raise bad_request(f"Could not find a property named '{name}' on the entity.")
    return {k: v for k, v in entity.items() if k.startswith("@") or k in fields}
