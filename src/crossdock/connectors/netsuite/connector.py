"""The NetSuite connector: SuiteTalk REST with token-based auth, within the account's slots.

Outbound commands (each safe to perform again, settled by external id after an ambiguous end):

- ``customer.upsert`` {customer}: ``PUT customer/eid:<customer.id>``.
- ``sales_order.create`` {order, customer_id?, location_id?}: read ``salesOrder/eid:<order.id>``,
  else ``PUT`` there (externalId = the canonical order id). A line without a SKU goes to the
  ``custom_item`` non-inventory item, a sold gift card to ``gift_card_item``.
- ``sales_order.update`` {order_id, changes}: ``PATCH salesOrder/<id>`` of the changes it can
  carry (``shipping_address`` -> ``shippingAddress``; ``lines`` -> the item sublist: new
  quantities, closed remainders, added lines); any other change is refused by name.
- ``sales_order.close`` {order_id, reason}: ``PATCH salesOrder/<id>`` setting ``isClosed`` on
  every line with something left to fulfil (or, on a non-inventory line, to bill).
- ``fulfillment.record`` {shipment}: ``salesOrder/<id>/!transform/itemFulfillment`` of the
  shipped lines, externalId = the shipment's hub id.
- ``invoice.create`` {order_id, invoice_id, lines?}: ``!transform/invoice``, externalId =
  invoice_id.
- ``return.authorize`` {return}: ``!transform/returnAuthorization`` of the returned lines.
- ``return.credit`` {return_id, credit_id?}: ``returnAuthorization/<id>/!transform/creditMemo``.

Every create first looks for the record by its external id, so a repeat creates nothing; a
timeout after sending is settled by the same lookup (`settle_ambiguous`), never by resending.
Polling (`poll_inventory`, `poll_orders`) pages SuiteQL through ``hasMore`` from a cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from crossdock.backbone.store import Command, JSONObject, Store
from crossdock.canonical.address import Address
from crossdock.canonical.customer import Customer
from crossdock.canonical.envelope import Event
from crossdock.canonical.order import Order
from crossdock.canonical.returns import Return
from crossdock.canonical.shipment import Shipment
from crossdock.connectorkit import (
    ConflictError,
    Connector,
    ErrorTable,
    PermanentFailureError,
    Secret,
    handles,
)
from crossdock.connectorkit.auth import OAuth1TokenAuth
from crossdock.connectorkit.http import HttpClient, HttpResponse, Params, decode_json, rfc3986
from crossdock.connectorkit.http._client import UNSET
from crossdock.connectors.netsuite.budget import DEFAULT_CONCURRENCY, shared_slots
from crossdock.connectors.netsuite.errors import (
    ASYNC_TABLE,
    LOOKUP_TABLE,
    NETSUITE_ERROR_TABLE,
    RESULT_TABLE,
    describe_error,
    error_details,
)
from crossdock.connectors.netsuite.payloads import (
    DEFAULT_CUSTOM_ITEM,
    DEFAULT_GIFT_CARD_ITEM,
    MappingFailedError,
    allocate_lines,
    customer_body,
    line_changes,
    record_id_from_location,
    sales_order_body,
    shipping_address_body,
)
from crossdock.connectors.netsuite.polling import Cursor, inventory_events, order_events, poll_into
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, ConcurrencySlots, RateBudget

__all__ = [
    "CUSTOMER_UPSERT",
    "FULFILLMENT_RECORD",
    "INVOICE_CREATE",
    "RETURN_AUTHORIZE",
    "RETURN_CREDIT",
    "SALES_ORDER_CLOSE",
    "SALES_ORDER_CREATE",
    "SALES_ORDER_UPDATE",
    "NetSuiteConnector",
    "rest_url",
]

CUSTOMER_UPSERT: Final = "customer.upsert"
SALES_ORDER_CREATE: Final = "sales_order.create"
SALES_ORDER_CLOSE: Final = "sales_order.close"
SALES_ORDER_UPDATE: Final = "sales_order.update"
_UPDATABLE: Final = frozenset({"shipping_address", "lines"})
NOT_IN_ERP: Final = "not_in_erp"
"""``sales_order.close`` status of an order NetSuite never had (its create was dead-lettered:
the flow's commands to one system run in order, so a create still queued runs first)."""
FULFILLMENT_RECORD: Final = "fulfillment.record"
INVOICE_CREATE: Final = "invoice.create"
RETURN_AUTHORIZE: Final = "return.authorize"
RETURN_CREDIT: Final = "return.credit"


def rest_url(account_id: str) -> str:
    """``https://<account>.suitetalk.api.netsuite.com/services/rest`` (lower case, ``-``)."""
    host = account_id.strip().lower().replace("_", "-")
    return f"https://{host}.suitetalk.api.netsuite.com/services/rest"


def _text(payload: Mapping[str, Any], name: str, kind: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise PermanentFailureError(f"{kind} needs a non-empty {name!r}")
    return value.strip()


def _model(model: type[Any], payload: Mapping[str, Any], name: str, kind: str) -> Any:
    try:
        return model.model_validate(payload.get(name))
    except ValidationError as exc:
        raise PermanentFailureError(
            f"{kind}: {name} is not a valid {model.__name__}: {exc}"
        ) from exc


class NetSuiteConnector(Connector):
    """Speaks one NetSuite account over SuiteTalk REST web services.

    Args:
        http: The shared HTTP seam.
        account_id: The account id (``1234567`` or ``1234567-sb1``); it names the realm.
        consumer_key: The integration record's consumer key.
        consumer_secret: The integration record's consumer secret.
        token_id: The access token id.
        token_secret: The access token secret.
        base_url: The REST root (default `rest_url`; a simulator's ``rest_url`` in tests).
        concurrency_limit: The account's slots (15 on Tier 1); shared by the process.
        default_currency: For orders whose currency is not named by ISO code.
        locations: NetSuite location id to hub location code (default: the id itself).
        page_size: SuiteQL rows per page (at most 1000).
        custom_item: External id of the non-inventory sale item that carries order lines
            without a SKU (custom items); None refuses such lines.
        gift_card_item: External id of the item (on the gift-card liability account) that
            carries sold gift cards; None maps a gift card line by its SKU.
        destination: The instance's name (default ``netsuite``).
        rate_budget: Overrides the shared concurrency slots.
        breaker: The destination's breaker.
        clock: The clock (signing timestamps).
    """

    system = "netsuite"
    error_table = NETSUITE_ERROR_TABLE

    def __init__(
        self,
        *,
        http: HttpClient,
        account_id: str,
        consumer_key: str,
        consumer_secret: str | Secret,
        token_id: str,
        token_secret: str | Secret,
        base_url: str | None = None,
        concurrency_limit: int = DEFAULT_CONCURRENCY,
        default_currency: str | None = None,
        locations: Mapping[str, str] | None = None,
        page_size: int = 1000,
        custom_item: str | None = DEFAULT_CUSTOM_ITEM,
        gift_card_item: str | None = DEFAULT_GIFT_CARD_ITEM,
        destination: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.tba = OAuth1TokenAuth(
            account_id=account_id,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            token_id=token_id,
            token_secret=token_secret,
            clock=clock,
        )
        self.account_id = account_id
        self.concurrency_limit = concurrency_limit
        self.default_currency = default_currency
        self.locations = dict(locations or {})
        self.page_size = page_size
        self.custom_item = custom_item
        self.gift_card_item = gift_card_item
        self._skus: dict[str, str] = {}
        super().__init__(
            http=http,
            destination=destination,
            base_url=base_url if base_url is not None else rest_url(account_id),
            auth=self.tba,
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )

    def build_rate_budget(self) -> RateBudget:
        """The account's concurrency slots, shared by every instance in the process."""
        return shared_slots(self.tba.realm, self.concurrency_limit)

    # ---- the wire --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object = UNSET,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        table: ErrorTable | None = None,
    ) -> HttpResponse:
        """`Connector.call` with NetSuite's error detail added to a permanent failure."""
        try:
            return await self.call(
                method,
                path,
                params=params,
                json=json,
                headers=headers,
                idempotent=idempotent,
                table=table,
            )
        except PermanentFailureError as exc:
            detail = exc.classification.detail if exc.classification else ""
            described = _describe(detail)
            if not described:
                raise
            raise type(exc)(
                f"{exc}: {described}", detail=detail, classification=exc.classification
            ) from exc

    async def find(self, kind: str, external_id: str, *, expand: bool = True) -> JSONObject | None:
        """``GET record/v1/<kind>/eid:<external_id>``, or None when there is no such record."""
        params = {"expandSubResources": "true"} if expand else None
        response = await self.request(
            "GET", f"record/v1/{kind}/{_eid(external_id)}", params=params, table=LOOKUP_TABLE
        )
        if response.status == 404:
            return None
        found: JSONObject = response.json()
        return found

    async def read(self, kind: str, record_id: str) -> JSONObject:
        """``GET record/v1/<kind>/<id>?expandSubResources=true``."""
        response = await self.request(
            "GET", f"record/v1/{kind}/{record_id}", params={"expandSubResources": "true"}
        )
        found: JSONObject = response.json()
        return found

    async def order_status(self, order_id: str) -> JSONObject | None:
        """The NetSuite status of the sales order of canonical order ``order_id``.

        Returns:
            ``netsuite_id``, ``status`` (e.g. ``{"id": "B", "refName": "Pending Fulfillment"}``)
            and the per-line quantities, or None when NetSuite has no such order.
        """
        record = await self.find("salesOrder", order_id)
        if record is None:
            return None
        return _result(record) | {
            "lines": [
                {
                    "line": line.get("line"),
                    "sku": (line.get("item") or {}).get("refName"),
                    **{
                        k: line.get(k, 0)
                        for k in (
                            "quantity",
                            "quantityCommitted",
                            "quantityBackOrdered",
                            "quantityFulfilled",
                            "quantityBilled",
                        )
                    },
                }
                for line in (record.get("item") or {}).get("items", [])
            ]
        }

    # ---- commands --------------------------------------------------------------------------

    @handles(CUSTOMER_UPSERT)
    async def upsert_customer(self, command: Command) -> JSONObject:
        """``PUT customer/eid:<customer.id>``: creates or replaces; safe to repeat."""
        customer: Customer = _model(Customer, command.payload, "customer", command.kind)
        if not customer.id:
            raise PermanentFailureError(f"{command.kind}: the customer needs its hub id")
        response = await self.request(
            "PUT", f"record/v1/customer/{_eid(customer.id)}", json=customer_body(customer)
        )
        return {"netsuite_id": _location_id(response), "external_id": customer.id}

    @handles(SALES_ORDER_CREATE, idempotent=False)
    async def create_sales_order(self, command: Command) -> JSONObject:
        """Create the sales order of ``payload.order`` with externalId = the canonical order id.

        An order already there is returned as it is (never replaced: it may be fulfilled).
        """
        order: Order = _model(Order, command.payload, "order", command.kind)
        if not order.id:
            raise PermanentFailureError(f"{command.kind}: the order needs its hub id")
        existing = await self.find("salesOrder", order.id)
        if existing is not None:
            return _result(existing)
        customer_id = command.payload.get("customer_id") or (
            order.customer.id if order.customer else None
        )
        if not isinstance(customer_id, str) or not customer_id:
            raise PermanentFailureError(f"{command.kind}: no customer_id for order {order.number}")
        location = command.payload.get("location_id")
        try:
            body = sales_order_body(
                order,
                customer_external_id=customer_id,
                location_id=str(location) if location is not None else None,
                custom_item=self.custom_item,
                gift_card_item=self.gift_card_item,
            )
        except MappingFailedError as exc:
            raise PermanentFailureError(f"{command.kind}: {exc}") from exc
        # Sent as not idempotent: a lost answer must be settled by reading, not by a second PUT.
        try:
            await self.request(
                "PUT", f"record/v1/salesOrder/{_eid(order.id)}", json=body, idempotent=False
            )
        except PermanentFailureError as exc:
            if _error_path(exc) == "entity":
                # In context the customer is expected: its upsert may still be in the queue.
                raise ConflictError(
                    f"{command.kind}: customer {customer_id} not in NetSuite yet: {exc}"
                ) from exc
            raise
        created = await self.find("salesOrder", order.id)
        if created is None:
            raise ConflictError(f"sales order {order.id} not readable right after its PUT")
        return _result(created)

    @handles(SALES_ORDER_UPDATE)
    async def update_sales_order(self, command: Command) -> JSONObject:
        """Apply an allowed edit to the sales order: one ``PATCH salesOrder/<id>``.

        ``shipping_address`` becomes ``shippingAddress``; ``lines`` (each ``{sku, quantity,
        line_id?, unit_price?, title?}``: the line's new quantity) are matched to the order's
        lines by SKU (`line_changes`): a new quantity is set, 0 closes the unshipped rest, a
        SKU the order lacks is added. Any other change is a permanent failure naming it.
        The order is read first and only what differs is sent, so a repeat changes nothing
        twice; an ambiguous PATCH is retried, and the retry reads the order again.
        """
        order_id = _text(command.payload, "order_id", command.kind)
        changes = command.payload.get("changes")
        if not isinstance(changes, Mapping) or not changes:
            raise PermanentFailureError(f"{command.kind}: no changes given")
        unknown = sorted(set(changes) - _UPDATABLE)
        if unknown:
            raise PermanentFailureError(
                f"{command.kind}: NetSuite cannot take changes of {', '.join(unknown)}"
            )
        body: dict[str, Any] = {}
        if "shipping_address" in changes:
            address = _model(Address, changes, "shipping_address", command.kind)
            body["shippingAddress"] = shipping_address_body(address)
        record = await self._order_or_conflict(order_id, command.kind)
        if "lines" in changes:
            try:
                items = line_changes(record, changes["lines"])
            except MappingFailedError as exc:
                raise PermanentFailureError(f"{command.kind}: {exc}") from exc
            if items:
                body["item"] = {"items": items}
        if body:
            # A line added twice would be two lines: never resent blindly (the retry re-reads).
            await self.request(
                "PATCH",
                f"record/v1/salesOrder/{record['id']}",
                json=body,
                idempotent="item" not in body,
            )
        return {**_result(record), "updated": sorted(changes)}

    @handles(SALES_ORDER_CLOSE, idempotent=False)
    async def close_sales_order(self, command: Command) -> JSONObject:
        """Close every line of the sales order that has something left to fulfil or bill.

        ``PATCH salesOrder/<id>`` with ``isClosed`` on those lines (NetSuite's Close). An order
        with nothing open is done as it is; an order NetSuite never had is done with status
        `NOT_IN_ERP`. An ambiguous PATCH is settled by reading the order again.

        Returns:
            ``erp_id`` (the internal id), ``status`` (NetSuite's), ``closed_lines`` and the
            create result's fields.
        """
        order_id = _text(command.payload, "order_id", command.kind)
        record = await self.find("salesOrder", order_id)
        if record is None:
            return {"erp_id": None, "external_id": order_id, "status": NOT_IN_ERP}
        lines = _open_lines(record)
        if not lines:
            return _closed_result(record, 0)
        body = {"item": {"items": [{"line": n, "isClosed": True} for n in lines]}}
        # Sent as not idempotent: a lost answer is settled by reading the order (perform).
        await self.request(
            "PATCH", f"record/v1/salesOrder/{record['id']}", json=body, idempotent=False
        )
        closed = await self.read("salesOrder", str(record["id"]))
        left = _open_lines(closed)
        if left:
            raise ConflictError(f"{command.kind}: lines {left} still open after the close")
        return _closed_result(closed, len(lines))

    @handles(FULFILLMENT_RECORD, idempotent=False)
    async def record_fulfillment(self, command: Command) -> JSONObject:
        """Transform the order into an itemFulfillment of the shipment's lines.

        The fulfilment's externalId is the shipment's hub id, looked up first: a shipment event
        delivered twice records one fulfilment.
        """
        shipment: Shipment = _model(Shipment, command.payload, "shipment", command.kind)
        if not shipment.id or not shipment.order.id:
            raise PermanentFailureError(f"{command.kind}: the shipment and its order need hub ids")
        existing = await self.find("itemFulfillment", shipment.id, expand=False)
        if existing is not None:
            return _result(existing)
        order = await self._order_or_conflict(shipment.order.id, command.kind)
        # Lines without a SKU sit on the non-inventory custom item: NetSuite never fulfils them.
        wanted = [(line.sku, line.quantity) for line in shipment.lines if line.sku]
        if shipment.lines and not wanted:
            return {"erp_id": None, "external_id": shipment.id, "status": "nothing_to_fulfil"}
        try:
            picks = allocate_lines(order, wanted, room="fulfil") if wanted else None
        except MappingFailedError as exc:
            raise PermanentFailureError(f"{command.kind}: {exc}") from exc
        body: dict[str, Any] = {
            "externalId": shipment.id,
            "memo": _memo("shipment", shipment.id, shipment.tracking_number),
        }
        if picks is not None:
            body["item"] = {"items": [p | {"itemReceive": True} for p in picks]}
        return await self._transform("salesOrder", str(order["id"]), "itemFulfillment", body)

    @handles(INVOICE_CREATE, idempotent=False)
    async def create_invoice(self, command: Command) -> JSONObject:
        """Transform the order into an invoice (of what is fulfilled and unbilled, or ``lines``)."""
        order_id = _text(command.payload, "order_id", command.kind)
        invoice_id = _text(command.payload, "invoice_id", command.kind)
        existing = await self.find("invoice", invoice_id, expand=False)
        if existing is not None:
            return _result(existing)
        order = await self._order_or_conflict(order_id, command.kind)
        body: dict[str, Any] = {"externalId": invoice_id, "memo": _memo("invoice", invoice_id)}
        lines = command.payload.get("lines")
        if isinstance(lines, list) and lines:
            wanted = [(str(x["sku"]), int(x["quantity"])) for x in lines]
            try:
                body["item"] = {"items": allocate_lines(order, wanted, room="bill")}
            except MappingFailedError as exc:
                raise PermanentFailureError(f"{command.kind}: {exc}") from exc
        return await self._transform("salesOrder", str(order["id"]), "invoice", body)

    @handles(RETURN_AUTHORIZE, idempotent=False)
    async def authorize_return(self, command: Command) -> JSONObject:
        """Transform the order into a returnAuthorization of the return's lines.

        The order is the payload's ``order_id`` when given, else the return's ``order.id``.
        """
        ret: Return = _model(Return, command.payload, "return", command.kind)
        order_id = str(command.payload.get("order_id") or ret.order.id or "")
        if not ret.id or not order_id:
            raise PermanentFailureError(f"{command.kind}: the return and its order need hub ids")
        existing = await self.find("returnAuthorization", ret.id, expand=False)
        if existing is not None:
            return _result(existing)
        order = await self._order_or_conflict(order_id, command.kind)
        wanted = []
        for line in ret.lines:
            if not line.sku:
                raise PermanentFailureError(f"{command.kind}: return line without SKU")
            wanted.append((line.sku, line.quantity))
        try:
            picks = allocate_lines(order, wanted, room="return")
        except MappingFailedError as exc:
            raise PermanentFailureError(f"{command.kind}: {exc}") from exc
        body = {
            "externalId": ret.id,
            "memo": _memo("return", ret.id, ret.number),
            "item": {"items": picks},
        }
        return await self._transform("salesOrder", str(order["id"]), "returnAuthorization", body)

    @handles(RETURN_CREDIT, idempotent=False)
    async def credit_return(self, command: Command) -> JSONObject:
        """Transform the return authorization into its credit memo."""
        return_id = _text(command.payload, "return_id", command.kind)
        credit_id = command.payload.get("credit_id") or f"{return_id}:credit"
        existing = await self.find("creditMemo", str(credit_id), expand=False)
        if existing is not None:
            return _result(existing)
        authorization = await self.find("returnAuthorization", return_id, expand=False)
        if authorization is None:
            raise ConflictError(f"{command.kind}: return authorization {return_id} not there yet")
        body = {"externalId": str(credit_id), "memo": _memo("credit", str(credit_id))}
        return await self._transform(
            "returnAuthorization", str(authorization["id"]), "creditMemo", body
        )

    async def settle_ambiguous(self, command: Command) -> JSONObject | None:
        """Look the record up by the external id the command would have given it."""
        payload = command.payload
        if command.kind == SALES_ORDER_CLOSE:
            order = await self.find("salesOrder", str(payload.get("order_id") or ""))
            if order is None or _open_lines(order):
                return None  # not applied (or never there): performing it again is safe
            return _closed_result(order, 0)
        try:
            kind, external_id = _settle_key(command.kind, payload)
        except (KeyError, TypeError):
            return None
        if not external_id:
            return None
        found = await self.find(kind, external_id, expand=False)
        return _result(found) if found is not None else None

    # ---- asynchronous requests and governance ---------------------------------------------

    async def submit_async(
        self, method: str, path: str, *, idempotency_key: str, json: object = UNSET
    ) -> str:
        """Send a request with ``Prefer: respond-async``; return its job's path.

        The ``X-NetSuite-Idempotency-Key`` makes a resend safe: NetSuite answers a repeat with
        IDEMPOTENCY_ERROR and the original job's ``Location``, which is returned instead.

        Raises:
            PermanentFailureError: NetSuite named no job.
        """
        response = await self.request(
            method,
            path,
            json=json,
            headers={"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": idempotency_key},
            idempotent=True,  # the key makes a resend land on the same job
            table=ASYNC_TABLE,
        )
        location = response.headers.get("Location")
        if not location:
            raise PermanentFailureError(f"async {method} {path}: no job Location in the answer")
        return "/services/rest/" + location.split("/services/rest/", 1)[-1]

    async def job_result(self, job_path: str) -> HttpResponse | None:
        """The answer of an async job once it completed (None while it runs)."""
        job = (await self.request("GET", self._absolute(job_path))).json()
        if not job.get("completed"):
            return None
        links = (job.get("task") or {}).get("links") or []
        href = next((link["href"] for link in links if "href" in link), None)
        if href is None:
            raise PermanentFailureError(f"job {job_path} completed without a task result link")
        return await self.request("GET", self._absolute(href), table=RESULT_TABLE)

    async def refresh_concurrency(self) -> int:
        """Read ``system/v1/governanceLimits`` and resize the slots to this integration's limit."""
        limits = (await self.request("GET", "system/v1/governanceLimits")).json()
        limit = int(
            limits.get("integrationConcurrencyLimit")
            or limits.get("accountConcurrencyLimit")
            or self.concurrency_limit
        )
        self.concurrency_limit = limit
        if isinstance(self.rate_budget, ConcurrencySlots):
            self.rate_budget.resize(limit)
        return limit

    def _absolute(self, path: str) -> str:
        if "://" in path:
            return path
        root = self.url.split("/services/rest", 1)[0]
        return f"{root}/{path.lstrip('/')}"

    # ---- SuiteQL and polling ---------------------------------------------------------------

    async def suiteql_page(self, query: str, *, limit: int = 1000, offset: int = 0) -> JSONObject:
        """One page of ``POST query/v1/suiteql?limit=&offset=`` with ``Prefer: transient``."""
        response = await self.request(
            "POST",
            "query/v1/suiteql",
            params={"limit": limit, "offset": offset},
            json={"q": query},
            headers={"Prefer": "transient"},
            idempotent=True,  # a query changes nothing
        )
        page: JSONObject = response.json()
        return page

    async def poll_inventory(self, cursor: Cursor | None = None) -> tuple[list[Event], Cursor]:
        """``inventory.changed`` events for balances changed since ``cursor``, and the next one."""
        return await inventory_events(
            self,
            cursor or Cursor(),
            source=self.destination,
            locations=self.locations,
            skus=self._skus,
            page_size=self.page_size,
        )

    async def poll_orders(self, cursor: Cursor | None = None) -> tuple[list[Event], Cursor]:
        """``order.updated`` events for sales orders changed since ``cursor``, and the next one."""
        return await order_events(
            self,
            cursor or Cursor(),
            source=self.destination,
            default_currency=self.default_currency,
            page_size=self.page_size,
        )

    async def poll_inventory_into(self, store: Store) -> list[Event]:
        """`poll_inventory` from the cursor kept in ``store``; events and cursor saved together."""
        return await poll_into(store, f"{self.destination}:inventory", self.poll_inventory)

    async def poll_orders_into(self, store: Store) -> list[Event]:
        """`poll_orders` from the cursor kept in ``store``; events and cursor saved together."""
        return await poll_into(store, f"{self.destination}:orders", self.poll_orders)

    # ---- helpers ---------------------------------------------------------------------------

    async def _order_or_conflict(self, order_id: str, kind: str) -> JSONObject:
        order = await self.find("salesOrder", order_id)
        if order is None:
            # In context the order is expected: its creation may still be in the queue.
            raise ConflictError(f"{kind}: NONEXISTENT_ID: no sales order for order {order_id} yet")
        return order

    async def _transform(
        self, source: str, source_id: str, target: str, body: Mapping[str, Any]
    ) -> JSONObject:
        response = await self.request(
            "POST",
            f"record/v1/{source}/{source_id}/!transform/{target}",
            json=dict(body),
            idempotent=False,
        )
        new_id = _location_id(response)
        created = await self.read(target, new_id)
        return _result(created)


def _open_lines(order: Mapping[str, Any]) -> list[int]:
    """Line numbers of the order's lines not closed with something left to fulfil or bill."""
    out = []
    for line in (order.get("item") or {}).get("items") or []:
        if line.get("isClosed"):
            continue
        done_key = "quantityFulfilled"
        if (line.get("itemType") or {}).get("id") == "NonInvtPart":
            done_key = "quantityBilled"  # nothing to ship: open until billed
        if int(line.get(done_key) or 0) < int(line.get("quantity") or 0):
            out.append(int(line["line"]))
    return out


def _closed_result(record: Mapping[str, Any], closed_lines: int) -> JSONObject:
    return {"erp_id": str(record.get("id")), **_result(record), "closed_lines": closed_lines}


def _settle_key(kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    if kind == SALES_ORDER_CREATE:
        return "salesOrder", str(payload["order"]["id"])
    if kind == FULFILLMENT_RECORD:
        return "itemFulfillment", str(payload["shipment"]["id"])
    if kind == INVOICE_CREATE:
        return "invoice", str(payload["invoice_id"])
    if kind == RETURN_AUTHORIZE:
        return "returnAuthorization", str(payload["return"]["id"])
    if kind == RETURN_CREDIT:
        return "creditMemo", str(payload.get("credit_id") or f"{payload['return_id']}:credit")
    raise KeyError(kind)


def _eid(external_id: str) -> str:
    # The path is sent as written and signed as written: encode it once, per RFC 3986.
    return f"eid:{rfc3986(external_id)}"


def _memo(what: str, hub_id: str, extra: str | None = None) -> str:
    return f"crossdock {what} {hub_id}" + (f" ({extra})" if extra else "")


def _location_id(response: HttpResponse) -> str:
    try:
        return record_id_from_location(response.headers.get("Location"))
    except MappingFailedError as exc:
        raise PermanentFailureError(str(exc)) from exc


def _result(record: Mapping[str, Any]) -> JSONObject:
    status = record.get("status")
    return {
        "netsuite_id": str(record.get("id")),
        "external_id": record.get("externalId"),
        "tran_id": record.get("tranId"),
        "status": dict(status) if isinstance(status, Mapping) else status,
    }


def _error_path(exc: PermanentFailureError) -> str | None:
    detail = exc.classification.detail if exc.classification else ""
    try:
        details = error_details(decode_json(detail))
    except ValueError:
        return None
    path = details[0].get("o:errorPath") if details else None
    return path if isinstance(path, str) else None


def _describe(detail: str) -> str:
    try:
        return describe_error(decode_json(detail))
    except ValueError:
        return ""
