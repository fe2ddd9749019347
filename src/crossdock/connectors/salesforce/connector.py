"""The Salesforce connector: accounts, contacts, orders and cases over the REST API.

Every write is keyed by an external id, so a retry never creates twice: accounts and contacts
upsert by ``Shopify_Customer_Id__c`` (or another external id field), orders by
``Shopify_Order_Id__c``, order items by ``Shopify_Line_Item_Id__c``, cases by
``Hub_Exception_Id__c``. Each call carries ``Sforce-Call-Options: client=<client_id>``, so
the change events of the hub's own writes can be recognised and dropped.

Order lines that name no stocked product are mapped the way NetSuite's are: a custom line (no
SKU: a Shopify custom item) becomes an OrderItem of the ``custom_product`` catch-all Product2,
a sold gift card one of the ``gift_card_product`` catch-all (both found by ``ProductCode``),
each keeping the line's own description, unit price and quantity. An Order whose Account (by
external id) is not in Salesforce yet is retried: the Account's upsert belongs to another flow
instance and may simply not have landed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from crossdock.backbone.store import Command, JSONObject
from crossdock.canonical.customer import Customer
from crossdock.canonical.mapping import MappingError
from crossdock.canonical.order import Order, OrderLine
from crossdock.connectorkit import (
    ConflictError,
    Connector,
    ErrorTable,
    Outcome,
    PermanentFailureError,
    RetryLaterError,
    Rule,
    handles,
)
from crossdock.connectorkit.auth import AuthScheme, OAuth2TokenAuth
from crossdock.connectorkit.http import UNSET, HttpClient, HttpResponse, Params
from crossdock.connectors.salesforce.errors import (
    DAILY_LIMIT_RECHECK_S,
    SALESFORCE_ERROR_TABLE,
)
from crossdock.connectors.salesforce.records import (
    account_fields,
    contact_fields,
    order_fields,
    order_item_fields,
)
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, DailyAllocation, RateBudget

__all__ = [
    "ACCOUNT_RETRY_AFTER_S",
    "CASE_OPEN",
    "COLLECTION_LIMIT",
    "CUSTOMER_UPSERT",
    "CUSTOMER_UPSERT_BATCH",
    "DEFAULT_CUSTOM_PRODUCT",
    "DEFAULT_GIFT_CARD_PRODUCT",
    "ORDER_CREATE",
    "ORDER_UPDATE_STATUS",
    "CatchAllProductError",
    "RecordResult",
    "SalesforceConnector",
    "UnknownSkuError",
    "soql_literal",
]

CUSTOMER_UPSERT: Final = "customer.upsert"
CUSTOMER_UPSERT_BATCH: Final = "customer.upsert_batch"
ORDER_CREATE: Final = "order.create"
ORDER_UPDATE_STATUS: Final = "order.update_status"
CASE_OPEN: Final = "case.open"
COLLECTION_LIMIT: Final = 200
ORDER_KEY: Final = "Shopify_Order_Id__c"
LINE_KEY: Final = "Shopify_Line_Item_Id__c"
CASE_KEY: Final = "Hub_Exception_Id__c"
DEFAULT_CUSTOM_PRODUCT: Final = "CROSSDOCK-CUSTOM"
"""ProductCode of the catch-all Product2 that carries order lines without a SKU."""
DEFAULT_GIFT_CARD_PRODUCT: Final = "CROSSDOCK-GIFTCARD"
"""ProductCode of the catch-all Product2 that carries sold gift cards."""
ACCOUNT_RETRY_AFTER_S: Final = 5.0
"""Seconds before an Order (or Case) whose Account is not in Salesforce yet is tried again."""
_MISSING_PARENT_CODES: Final = frozenset({"INVALID_FIELD"})
_NOT_FOUND_IS_AN_ANSWER = SALESFORCE_ERROR_TABLE.extend(
    Rule(Outcome.OK, status=404, reason="not found (an answer to a lookup)")
)


class UnknownSkuError(PermanentFailureError):
    """An order line's SKU has no active Product2 with a PricebookEntry in the price book.

    Attributes:
        skus: The SKUs that could not be resolved.
    """

    def __init__(self, skus: Sequence[str], pricebook_id: str) -> None:
        self.skus = list(skus)
        super().__init__(
            f"unknown SKU(s) {', '.join(self.skus)}: no active Product2 with a PricebookEntry "
            f"in price book {pricebook_id}",
            detail="create the Product2 (SKU__c) and its PricebookEntry, then replay",
        )


class CatchAllProductError(PermanentFailureError):
    """A catch-all product that order lines without a SKU (or gift cards) need is missing.

    Attributes:
        setting: The connector setting that names it (``custom_product`` or
            ``gift_card_product``).
        product_code: The ``ProductCode`` looked for.
    """

    def __init__(self, setting: str, product_code: str, pricebook_id: str, order: str) -> None:
        self.setting = setting
        self.product_code = product_code
        super().__init__(
            f"order {order}: no active Product2 with ProductCode {product_code} (the "
            f"{setting} setting) and a PricebookEntry in price book {pricebook_id}",
            detail=f"create that catch-all product, or set {setting} to one that exists, "
            "then replay",
        )


@dataclass(frozen=True, slots=True)
class RecordResult:
    """One record's outcome in an upsert.

    Attributes:
        key: The external id value.
        id: The Salesforce id (None when it failed).
        created: True when the upsert inserted.
        errors: ``[{"statusCode", "message", "fields"}]`` when it failed.
    """

    key: str
    id: str | None
    created: bool
    errors: tuple[dict[str, Any], ...] = ()

    @property
    def success(self) -> bool:
        """Whether the record was written."""
        return self.id is not None and not self.errors

    def as_json(self) -> JSONObject:
        """JSON for a command result."""
        return {
            "key": self.key,
            "id": self.id,
            "created": self.created,
            "errors": list(self.errors),
        }


def _key(payload: Mapping[str, Any], name: str) -> tuple[str, str]:
    key = payload.get(name)
    if not isinstance(key, Mapping):
        raise PermanentFailureError(f"the command needs {name}: {{field, value}}")
    field, value = key.get("field"), key.get("value")
    if not isinstance(field, str) or not field or value in (None, ""):
        raise PermanentFailureError(f"{name} needs a field name and a value")
    return field, str(value)


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str | int) or str(value) == "":
        raise PermanentFailureError(f"the command needs {name}")
    return str(value)


class SalesforceConnector(Connector):
    """Speaks the Salesforce REST API for the hub.

    Args:
        http: The shared HTTP seam.
        auth: An OAuth 2.0 scheme (`OAuth2ClientCredentials` or `OAuth2JwtBearer`): its token
            response's ``instance_url`` is the API host unless `instance_url` is given.
        instance_url: The org's My Domain URL (None: take it from the token response).
        api_version: E.g. ``62.0``.
        client_id: Sent as ``Sforce-Call-Options: client=<id>``; change events whose
            ``changeOrigin`` names it are the hub's own echoes.
        pricebook_id: The price book orders use (None: the standard one, looked up once).
        custom_product: ProductCode of the catch-all Product2 that carries order lines
            without a SKU (custom items); None refuses such lines.
        gift_card_product: ProductCode of the catch-all Product2 that carries sold gift
            cards; None maps a gift card line by its SKU like any other.
        account_retry_after: Seconds before an Order (or Case) whose Account is not in
            Salesforce yet is tried again.
        daily_limit: The org's daily API allocation until a response reports it.
        destination: This instance's name (default ``salesforce``).
        rate_budget: The destination's budget (default: a `DailyAllocation` that follows
            ``Sforce-Limit-Info``).
        breaker: The destination's breaker.
        clock: The clock.
    """

    system = "salesforce"
    error_table = SALESFORCE_ERROR_TABLE

    def __init__(
        self,
        *,
        http: HttpClient,
        auth: AuthScheme,
        instance_url: str | None = None,
        api_version: str = "62.0",
        client_id: str = "crossdock-hub",
        pricebook_id: str | None = None,
        custom_product: str | None = DEFAULT_CUSTOM_PRODUCT,
        gift_card_product: str | None = DEFAULT_GIFT_CARD_PRODUCT,
        account_retry_after: float = ACCOUNT_RETRY_AFTER_S,
        daily_limit: int = 15_000,
        destination: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.daily_limit = daily_limit
        super().__init__(
            http=http,
            destination=destination,
            base_url=instance_url or "",
            auth=auth,
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )
        self.api_version = api_version
        self.client_id = client_id
        self.pricebook_id = pricebook_id
        self.custom_product = custom_product
        self.gift_card_product = gift_card_product
        self.account_retry_after = account_retry_after

    def build_rate_budget(self) -> RateBudget:
        """The org's rolling daily allocation, adapted from ``Sforce-Limit-Info``."""
        return DailyAllocation(
            self.destination,
            limit=self.daily_limit,
            recheck=DAILY_LIMIT_RECHECK_S,
            clock=self.clock,
        )

    # ---- plumbing --------------------------------------------------------------------------

    async def instance(self) -> str:
        """The org's base URL: the configured one, or the token response's ``instance_url``."""
        if self.url:
            return self.url
        if not isinstance(self.auth, OAuth2TokenAuth):
            raise PermanentFailureError("no instance_url configured and no OAuth token to ask")
        token = await self.auth.token()
        found = token.extras.get("instance_url")
        if not isinstance(found, str) or not found:
            raise PermanentFailureError("the token response carried no instance_url")
        return found.rstrip("/")

    async def rest(
        self,
        method: str,
        path: str,
        *,
        json: object = UNSET,
        params: Params | None = None,
        idempotent: bool | None = None,
        table: ErrorTable | None = None,
    ) -> HttpResponse:
        """One call under ``/services/data/vXX.X/`` through the connector pipeline."""
        url = f"{await self.instance()}/services/data/v{self.api_version}/{path.lstrip('/')}"
        return await self.call(
            method,
            url,
            headers={
                "Sforce-Call-Options": f"client={self.client_id}",
                "Accept": "application/json",
            },
            json=json,
            params=params,
            idempotent=idempotent,
            table=table,
        )

    async def query(self, soql: str) -> list[dict[str, Any]]:
        """Run a SOQL query and return every record (following ``nextRecordsUrl``)."""
        response = await self.rest("GET", "query", params={"q": soql})
        body = response.json()
        records: list[dict[str, Any]] = list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            response = await self.call("GET", f"{await self.instance()}{body['nextRecordsUrl']}")
            body = response.json()
            records.extend(body.get("records", []))
        return records

    async def get_record(
        self, sobject: str, record_id: str, fields: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """One record by id (None when Salesforce says NOT_FOUND)."""
        params = {"fields": ",".join(fields)} if fields else None
        response = await self.rest(
            "GET", f"sobjects/{sobject}/{record_id}", params=params, table=_NOT_FOUND_IS_AN_ANSWER
        )
        found: dict[str, Any] | None = response.json() if response.status == 200 else None
        return found

    async def find_by_external_id(
        self, sobject: str, field: str, value: str, fields: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """One record by external id (None when none matches)."""
        params = {"fields": ",".join(fields)} if fields else None
        response = await self.rest(
            "GET",
            f"sobjects/{sobject}/{field}/{_segment(value)}",
            params=params,
            table=_NOT_FOUND_IS_AN_ANSWER,
        )
        found: dict[str, Any] | None = response.json() if response.status == 200 else None
        return found

    async def upsert(
        self,
        sobject: str,
        field: str,
        value: str,
        fields: Mapping[str, Any],
        *,
        update_only: bool = False,
    ) -> RecordResult:
        """Upsert one record by external id (201 created; 200 or 204 updated).

        Raises:
            ConflictError: Several records match (300).
            PermanentFailureError: Validation refused it, or nothing matched with
                ``update_only``.
        """
        response = await self.rest(
            "PATCH",
            f"sobjects/{sobject}/{field}/{_segment(value)}",
            json=dict(fields),
            params={"updateOnly": "true"} if update_only else None,
            idempotent=True,
        )
        if response.status == 204:
            # Older API versions answer an update with no body: read the id back.
            found = await self.find_by_external_id(sobject, field, value, ("Id",))
            if found is None:
                raise PermanentFailureError(f"{sobject} {field}={value} vanished after its upsert")
            return RecordResult(value, str(found["Id"]), created=False)
        body = response.json()
        return RecordResult(value, str(body["id"]), created=bool(body.get("created", False)))

    async def upsert_collection(
        self,
        sobject: str,
        field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> list[RecordResult]:
        """Upsert many records of one type through sObject Collections, 200 per call.

        Each record carries its external id in ``field``. A record Salesforce refuses comes
        back with its errors (``statusCode``); the call itself only fails for the whole batch.
        With ``all_or_none`` a refusal rolls back its batch of 200.
        """
        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_LIMIT):
            chunk = [
                {"attributes": {"type": sobject}, **dict(r)}
                for r in records[start : start + COLLECTION_LIMIT]
            ]
            response = await self.rest(
                "PATCH",
                f"composite/sobjects/{sobject}/{field}",
                json={"allOrNone": all_or_none, "records": chunk},
                idempotent=True,
            )
            for record, outcome in zip(chunk, response.json(), strict=True):
                errors = tuple(outcome.get("errors") or ())
                ok = bool(outcome.get("success"))
                results.append(
                    RecordResult(
                        str(record[field]),
                        str(outcome["id"]) if ok and outcome.get("id") else None,
                        created=bool(outcome.get("created", False)) if ok else False,
                        errors=errors,
                    )
                )
        return results

    # ---- customers -------------------------------------------------------------------------

    @handles(CUSTOMER_UPSERT)
    async def upsert_customer(self, command: Command) -> JSONObject:
        """Upsert a business customer's Account and its Contacts by external id.

        Payload: ``customer`` (customer.v1 JSON), ``key`` ``{field, value}`` for the Account,
        and optionally ``contact_keys`` (one per contact; default ``<value>-c<n>``, in the
        same field). Contacts go in one collection call.

        Returns:
            ``account_id``, ``created``, ``contact_ids``.
        """
        customer = _customer(command.payload.get("customer"))
        field, value = _key(command.payload, "key")
        account = await self.upsert("Account", field, value, _account(customer))
        contacts = self._contact_records(customer, field, value, command.payload)
        done = await self.upsert_collection("Contact", field, contacts, all_or_none=True)
        failed = [r for r in done if not r.success]
        if failed:
            raise _collection_failure("Contact", failed)
        return {
            "account_id": account.id,
            "created": account.created,
            "contact_ids": [r.id for r in done],
        }

    def _contact_records(
        self, customer: Customer, field: str, value: str, payload: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        keys = payload.get("contact_keys")
        if keys is not None and (not isinstance(keys, list) or len(keys) != len(customer.contacts)):
            raise PermanentFailureError("contact_keys must give one key per contact")
        return [
            {
                field: str(keys[n]) if keys is not None else f"{value}-c{n + 1}",
                "Account": {field: value},
                **contact_fields(contact),
            }
            for n, contact in enumerate(customer.contacts)
        ]

    @handles(CUSTOMER_UPSERT_BATCH)
    async def upsert_customers(self, command: Command) -> JSONObject:
        """Upsert many Accounts in sObject Collections (200 per call, not all-or-none).

        Payload: ``field`` (the external id field) and ``customers``: ``[{"key", "customer"}]``.
        A record Salesforce refuses does not hold the others back; it is reported in
        ``failed`` with its error codes.

        Returns:
            ``results`` (one per customer, in order) and ``failed`` (the refused keys).
        """
        field = _text(command.payload, "field")
        items = command.payload.get("customers")
        if not isinstance(items, list) or not items:
            raise PermanentFailureError("customer.upsert_batch needs a non-empty customers list")
        records = []
        for item in items:
            if not isinstance(item, Mapping):
                raise PermanentFailureError("each customer must be {key, customer}")
            records.append({field: _text(item, "key"), **_account(_customer(item.get("customer")))})
        results = await self.upsert_collection("Account", field, records)
        return {
            "results": [r.as_json() for r in results],
            "failed": [r.key for r in results if not r.success],
        }

    # ---- orders ----------------------------------------------------------------------------

    async def standard_pricebook(self) -> str:
        """The price book orders use (looked up once when not configured)."""
        if self.pricebook_id is None:
            found = await self.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
            if not found:
                raise PermanentFailureError("the org has no standard price book")
            self.pricebook_id = str(found[0]["Id"])
        return self.pricebook_id

    async def resolve_skus(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Active PricebookEntry per SKU (``Product2.SKU__c``) in the order price book.

        Raises:
            UnknownSkuError: One or more SKUs have no active Product2 + PricebookEntry.
        """
        pricebook = await self.standard_pricebook()
        wanted = sorted(set(skus))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            quoted = ", ".join(soql_literal(s) for s in chunk)
            rows = await self.query(
                "SELECT Id, Product2Id, UnitPrice, Product2.SKU__c FROM PricebookEntry "  # noqa: S608 - SOQL, values escaped
                f"WHERE Pricebook2Id = {soql_literal(pricebook)} AND IsActive = true "
                f"AND Product2.IsActive = true AND Product2.SKU__c IN ({quoted})"
            )
            for row in rows:
                sku = (row.get("Product2") or {}).get("SKU__c")
                if isinstance(sku, str):
                    found[sku.lower()] = row
        missing = [s for s in wanted if s.lower() not in found]
        if missing:
            raise UnknownSkuError(missing, pricebook)
        return {s: found[s.lower()] for s in wanted}

    async def resolve_product_codes(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Active PricebookEntry per ``Product2.ProductCode`` in the order price book.

        Used for the catch-all products; a code with no active entry is left out.
        """
        pricebook = await self.standard_pricebook()
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        quoted = ", ".join(soql_literal(c) for c in wanted)
        rows = await self.query(
            "SELECT Id, Product2Id, UnitPrice, Product2.ProductCode FROM PricebookEntry "  # noqa: S608 - SOQL, values escaped
            f"WHERE Pricebook2Id = {soql_literal(pricebook)} AND IsActive = true "
            f"AND Product2.IsActive = true AND Product2.ProductCode IN ({quoted})"
        )
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            code = (row.get("Product2") or {}).get("ProductCode")
            if isinstance(code, str):
                found.setdefault(code.lower(), row)
        return {c: found[c.lower()] for c in wanted if c.lower() in found}

    def catch_all_for(self, order: Order, line: OrderLine) -> tuple[str, str] | None:
        """The (setting, ProductCode) of the catch-all product that carries `line`.

        None when the line goes by its own SKU. A sold gift card goes to
        ``gift_card_product`` (when set), a line without a SKU to ``custom_product``.

        Raises:
            PermanentFailureError: The line has no SKU and no ``custom_product`` is set.
        """
        if line.gift_card and self.gift_card_product:
            return "gift_card_product", self.gift_card_product
        if line.sku:
            return None
        if self.custom_product:
            return "custom_product", self.custom_product
        raise PermanentFailureError(
            f"order {order.number}: line {line.line_id} has no SKU and no custom_product "
            "catch-all is configured"
        )

    async def _entries(self, order: Order) -> dict[str, str]:
        """The PricebookEntry id of every line of `order`, by line id (nothing is written).

        Raises:
            UnknownSkuError: A SKU has no active Product2 + PricebookEntry.
            CatchAllProductError: A catch-all product a line needs is missing.
        """
        catch_alls = {line.line_id: self.catch_all_for(order, line) for line in order.lines}
        skus = [line.sku for line in order.lines if line.sku and catch_alls[line.line_id] is None]
        by_sku = await self.resolve_skus(skus) if skus else {}
        codes = {found[1]: found[0] for found in catch_alls.values() if found is not None}
        by_code = await self.resolve_product_codes(list(codes))
        for code, setting in sorted(codes.items()):
            if code not in by_code:
                raise CatchAllProductError(
                    setting, code, await self.standard_pricebook(), order.number
                )
        entries: dict[str, str] = {}
        for line in order.lines:
            found = catch_alls[line.line_id]
            row = by_code[found[1]] if found is not None else by_sku[str(line.sku)]
            entries[line.line_id] = str(row["Id"])
        return entries

    async def find_order(self, order_key: str) -> dict[str, Any] | None:
        """The Order whose ``Shopify_Order_Id__c`` is ``order_key``, or None."""
        return await self.find_by_external_id(
            "Order", ORDER_KEY, order_key, ("Id", "OrderNumber", "Status", "StatusCode")
        )

    async def upsert_for_account(
        self,
        sobject: str,
        field: str,
        value: str,
        fields: Mapping[str, Any],
        account: tuple[str, str],
    ) -> RecordResult:
        """`upsert` a record that references an Account by external id.

        The Account's own upsert is another flow instance's command (another outbox
        partition), so it may not have landed yet: when Salesforce refuses the reference and
        the Account is indeed not there, this is worth another try, not a dead letter.

        Raises:
            RetryLaterError: The Account is not in Salesforce yet (after
                ``account_retry_after`` seconds; the outbox's attempt limit still applies).
            PermanentFailureError: Any other refusal.
        """
        try:
            return await self.upsert(sobject, field, value, fields)
        except PermanentFailureError as exc:
            codes = exc.classification.codes if exc.classification is not None else ()
            if not _MISSING_PARENT_CODES.intersection(codes):
                raise
            account_field, account_value = account
            if await self._account_exists(account_field, account_value):
                raise
            raise RetryLaterError(
                f"{sobject} {field}={value}: Account {account_field}={account_value} is not in "
                "Salesforce yet (its customer.upsert may still be queued in another partition)",
                retry_after=self.account_retry_after,
            ) from exc

    async def _account_exists(self, field: str, value: str) -> bool:
        try:
            found = await self.find_by_external_id("Account", field, value, ("Id",))
        except ConflictError:
            return True  # several Accounts match: the refusal stands, no retry mends it
        return found is not None

    @handles(ORDER_CREATE, idempotent=False)
    async def create_order(self, command: Command) -> JSONObject:
        """Create an Order (Draft), its OrderItems, then activate it.

        Payload: ``order`` (order.v1 JSON), ``order_key`` (its ``Shopify_Order_Id__c``) and
        ``account`` ``{field, value}`` (the Account's external id). Every step is keyed by an
        external id (the header by ``order_key``, each item by ``<order_key>:<line_id>``), so
        a retry finishes what an interrupted attempt began and never creates twice. Lines
        without a SKU and sold gift cards become items of the catch-all products
        (`catch_all_for`), with the line's own description, unit price and quantity.

        Returns:
            ``order_id``, ``order_number``, ``status``, ``created``, ``item_ids``.

        Raises:
            UnknownSkuError: A line's SKU cannot become an OrderItem (nothing is written).
            CatchAllProductError: A catch-all product is missing (nothing is written).
            RetryLaterError: The Account is not in Salesforce yet (nothing is written).
        """
        order = _order(command.payload.get("order"))
        key = _text(command.payload, "order_key")
        account = _key(command.payload, "account")
        existing = await self.find_order(key)
        if existing is not None and existing.get("StatusCode") == "Activated":
            return _order_result(existing, created=False, item_ids=None)
        entries = await self._entries(order)
        pricebook = await self.standard_pricebook()
        header = order_fields(order, pricebook_id=pricebook)
        header["Account"] = {account[0]: account[1]}
        written = await self.upsert_for_account("Order", ORDER_KEY, key, header, account)
        assert written.id is not None
        items = [
            {
                LINE_KEY: f"{key}:{line.line_id}",
                "OrderId": written.id,
                **order_item_fields(line, pricebook_entry_id=entries[line.line_id]),
            }
            for line in order.lines
        ]
        done = await self.upsert_collection("OrderItem", LINE_KEY, items, all_or_none=True)
        failed = [r for r in done if not r.success]
        if failed:
            raise _collection_failure("OrderItem", failed)
        await self.rest(
            "PATCH", f"sobjects/Order/{written.id}", json={"Status": "Activated"}, idempotent=True
        )
        activated = await self.find_order(key)
        if activated is None:
            raise PermanentFailureError(f"order {key} vanished after activation")
        return _order_result(
            activated, created=existing is None, item_ids=[r.id for r in done if r.id]
        )

    async def settle_ambiguous(self, command: Command) -> JSONObject | None:
        """Look the order up by ``Shopify_Order_Id__c``: activated means done; otherwise the
        handler is safe to run again (every step is an upsert by external id)."""
        if command.kind != ORDER_CREATE:
            return None
        found = await self.find_order(_text(command.payload, "order_key"))
        if found is not None and found.get("StatusCode") == "Activated":
            return _order_result(found, created=False, item_ids=None)
        return None

    @handles(ORDER_UPDATE_STATUS)
    async def update_order_status(self, command: Command) -> JSONObject:
        """Set an order's status and shipment details (update only, by ``order_key``).

        Payload: ``order_key``, optional ``status`` (a Status picklist value such as
        ``Shipped``) and ``shipment`` ``{tracking_number, carrier, shipped_at}``.

        Raises:
            PermanentFailureError: No such order, or a value Salesforce refuses.
        """
        key = _text(command.payload, "order_key")
        fields: dict[str, Any] = {}
        status = command.payload.get("status")
        if isinstance(status, str) and status:
            fields["Status"] = status
        shipment = command.payload.get("shipment")
        if isinstance(shipment, Mapping):
            for source, target in (
                ("tracking_number", "Tracking_Number__c"),
                ("carrier", "Carrier__c"),
                ("shipped_at", "Shipped_Date__c"),
            ):
                if shipment.get(source) is not None:
                    fields[target] = str(shipment[source])
        if not fields:
            raise PermanentFailureError("order.update_status needs a status or shipment details")
        result = await self.upsert("Order", ORDER_KEY, key, fields, update_only=True)
        return {"order_id": result.id, "updated": sorted(fields)}

    # ---- cases -----------------------------------------------------------------------------

    @handles(CASE_OPEN)
    async def open_case(self, command: Command) -> JSONObject:
        """Open (or find) the Case for an exception a flow raised, keyed by its exception id.

        Payload: ``exception_id``, ``subject``, optional ``description``, ``priority``
        (default ``High``) and ``account`` ``{field, value}``. A Case whose Account is not in
        Salesforce yet is retried (`upsert_for_account`).

        Returns:
            ``case_id`` and ``created``.
        """
        exception_id = _text(command.payload, "exception_id")
        fields: dict[str, Any] = {
            "Subject": _text(command.payload, "subject")[:255],
            "Origin": "Integration",
            "Status": "New",
            "Priority": str(command.payload.get("priority") or "High"),
        }
        description = command.payload.get("description")
        if isinstance(description, str) and description:
            fields["Description"] = description[:32000]
        if command.payload.get("account") is None:
            result = await self.upsert("Case", CASE_KEY, exception_id, fields)
        else:
            account = _key(command.payload, "account")
            fields["Account"] = {account[0]: account[1]}
            result = await self.upsert_for_account("Case", CASE_KEY, exception_id, fields, account)
        return {"case_id": result.id, "created": result.created}


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def soql_literal(value: str) -> str:
    """A SOQL string literal: quoted, with backslashes and quotes escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _customer(raw: Any) -> Customer:
    try:
        return Customer.model_validate(raw)
    except ValueError as exc:
        raise PermanentFailureError(f"not a customer.v1: {exc}") from exc


def _account(customer: Customer) -> dict[str, Any]:
    try:
        return account_fields(customer)
    except MappingError as exc:
        raise PermanentFailureError(str(exc)) from exc


def _order(raw: Any) -> Order:
    try:
        return Order.model_validate(raw)
    except ValueError as exc:
        raise PermanentFailureError(f"not an order.v1: {exc}") from exc


def _collection_failure(sobject: str, failed: Sequence[RecordResult]) -> PermanentFailureError:
    described = "; ".join(
        f"{r.key}: " + ", ".join(f"{e.get('statusCode')} {e.get('message')}" for e in r.errors)
        for r in failed
        if r.errors and r.errors[0].get("statusCode") != "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    )
    return PermanentFailureError(f"Salesforce refused {sobject} records: {described}")


def _order_result(
    record: Mapping[str, Any], *, created: bool, item_ids: list[str] | None
) -> JSONObject:
    result: JSONObject = {
        "order_id": record.get("Id"),
        "order_number": record.get("OrderNumber"),
        "status": record.get("Status"),
        "created": created,
    }
    if item_ids is not None:
        result["item_ids"] = item_ids
    return result
