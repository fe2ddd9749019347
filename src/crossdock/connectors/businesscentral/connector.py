"""The Business Central connector: customers, sales orders, fulfilment, invoices, returns and
change polling.

Every write is idempotent or settled:

- a sales order is created with ``externalDocumentNumber`` = the canonical order id, after a
  lookup by that number; an ambiguous outcome (timeout after sending) is settled by the same
  lookup, never by posting again;
- ``sales_order.update`` {order_id, changes} maps canonical changes (``shipping_address`` to
  ``shipTo*``, ``lines`` to line PATCH / POST / DELETE, in the ``edits`` module) and writes
  only what differs, so a repeat changes nothing twice;
- a PATCH carries the entity's ETag in ``If-Match``; a stale one (``Request_EntityChanged``,
  409 or 412) is settled by re-reading the entity and re-applying the change to the fresh
  version, never by overwriting with ``If-Match: *``;
- a fulfilment compares the lines' shipped quantities with what is wanted before it posts
  ``shipAndInvoice``, so recording it again posts nothing;
- ``invoice.create`` {order_id, invoice_id} posts nothing: ``shipAndInvoice`` invoiced each
  shipment, so the step finds the order's posted ``salesInvoices`` (by
  ``externalDocumentNumber``) and returns ``id``, ``number`` and the list. While a line is
  shipped and not invoiced, or nothing is invoiced yet, it is retried later (never invented);
- ``return.authorize`` {return, order_id?} creates a draft sales credit memo of the returned
  items (by SKU; the order's prices; applied to the invoice that covers them, if one does)
  whose ``externalDocumentNumber`` carries the return id, after a lookup by that number; an
  ambiguous POST is settled by the same lookup;
- ``return.credit`` {return_id, credit_id?} posts that credit memo (``Microsoft.NAV.post``:
  the returned units go back to inventory); one already posted is done, and an ambiguous
  post is settled by reading its status. ``credit_id`` is echoed: in Business Central the
  credit is the same document as the authorization;
- ``sales_order.close`` deletes a sales order nothing of which is shipped (``DELETE`` under
  ``If-Match``); on a partly shipped one it cancels the unshipped remainder by lowering each
  line's ``quantity`` to its ``shippedQuantity`` (a PATCH under the line's ETag). A stale
  ETag is settled by re-reading; an order fully shipped (or posted and gone) has nothing to
  close and is done, one never there is done, and an ambiguous DELETE is settled by looking
  the order up. (FLAG: real Business Central may refuse a quantity change on a *released*
  order until it is reopened; the simulator allows it, as the API page is assumed to.)

Custom lines (no SKU), sold gift cards and shipping charges of a canonical order become G/L
Account lines on the accounts the constructor names (`DEFAULT_CUSTOM_ACCOUNT`,
`DEFAULT_GIFT_CARD_ACCOUNT`, `DEFAULT_SHIPPING_ACCOUNT`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import ValidationError

from crossdock.backbone.store import Command, JSONObject
from crossdock.canonical.returns import Return
from crossdock.connectorkit import (
    AmbiguousOutcomeError,
    ConflictError,
    Connector,
    PermanentFailureError,
    RetryLaterError,
    Secret,
    handles,
)
from crossdock.connectorkit.auth import AuthScheme, OAuth2ClientCredentials
from crossdock.connectorkit.http import HttpClient, Params
from crossdock.connectors.businesscentral.bodies import (
    changed,
    customer_fields,
    eq_filter,
    external_document_number,
    sales_order_body,
    ship_quantities,
)
from crossdock.connectors.businesscentral.budget import BusinessCentralBudget
from crossdock.connectors.businesscentral.canonical import (
    customer_payload,
    is_canonical,
    order_email,
    sales_order_payload,
    shipment_targets,
)
from crossdock.connectors.businesscentral.cursor import CursorStore, PollCursor
from crossdock.connectors.businesscentral.documents import (
    close_plan,
    credit_memo_body,
    credit_memo_result,
    crediting_invoice,
    invoice_result,
    returned_quantities,
    sku_lines,
    uninvoiced,
)
from crossdock.connectors.businesscentral.edits import LineEdit, header_changes, line_plan
from crossdock.connectors.businesscentral.errors import (
    BC_ERROR_TABLE,
    ENTITY_CHANGED,
    NOT_FOUND,
    SAME_KEY_EXISTS,
    has_code,
)
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, RateBudget

SCOPE: Final = "https://api.businesscentral.dynamics.com/.default"
CREATE_ORDER: Final = "sales_order.create"
UPDATE_ORDER: Final = "sales_order.update"
CLOSE_ORDER: Final = "sales_order.close"
DELETED: Final = "Deleted"
"""``sales_order.close`` status: the sales order is not (or no longer) in Business Central."""
CLOSED: Final = "Closed"
"""``sales_order.close`` status: nothing is left to ship (the remainder was cancelled, or the
order was shipped in full)."""
INVOICE_CREATE: Final = "invoice.create"
AUTHORIZE_RETURN: Final = "return.authorize"
CREDIT_RETURN: Final = "return.credit"
DRAFT: Final = "Draft"
"""Status of a sales credit memo not posted yet."""
DEFAULT_CUSTOM_ACCOUNT: Final = "6110"
"""G/L account of order lines without a SKU (custom items)."""
DEFAULT_GIFT_CARD_ACCOUNT: Final = "5790"
"""G/L liability account of sold gift cards."""
DEFAULT_SHIPPING_ACCOUNT: Final = "6910"
"""G/L account of shipping charges."""
FULFIL_ORDER: Final = "sales_order.fulfil"
RECORD_FULFILLMENT: Final = "fulfillment.record"
UPSERT_CUSTOMER: Final = "customer.upsert"
INVENTORY_FIELDS: Final = ("id", "number", "gtin", "inventory", "unitPrice", "lastModifiedDateTime")

Changes = Mapping[str, Any] | Callable[[JSONObject], Mapping[str, Any]]
"""A change to apply: fixed values, or a function of the entity's current version."""


@dataclass(frozen=True)
class PollResult:
    """One poll of a change feed.

    Attributes:
        records: Entities changed since the cursor, oldest change first.
        cursor: The cursor to store for the next poll.
        pages: Pages read (``@odata.nextLink`` followed).
    """

    records: list[JSONObject]
    cursor: PollCursor
    pages: int


class BusinessCentralConnector(Connector):
    """Speaks Business Central API v2.0 for one company.

    Args:
        http: The shared HTTP seam.
        tenant: The Entra tenant (id or domain).
        environment: The environment name, e.g. ``Production``.
        company_id: The company's id (GUID).
        client_id: The Entra app's client id (client credentials).
        client_secret: Its secret.
        token_url: The token endpoint (default: Entra's for `tenant`).
        scope: The scope asked for (default: BC's ``.default``).
        auth: Another auth scheme (overrides the client credentials).
        local_currency: The company's currency, written as an empty ``currencyCode``.
        conflict_attempts: Re-reads before a run of stale ETags is handed back as a conflict.
        custom_account: G/L account number of order lines without a SKU; None refuses them.
        gift_card_account: G/L (liability) account number of sold gift cards; None maps a
            gift card line by its SKU.
        shipping_account: G/L account number of shipping charges; None leaves them off.
        destination: This instance's name (default ``businesscentral``).
        base_url: The API host (default ``https://api.businesscentral.dynamics.com``).
        rate_budget: The destination's budget (default `BusinessCentralBudget`).
        breaker: The destination's breaker.
        clock: The clock.
    """

    system = "businesscentral"
    base_url = "https://api.businesscentral.dynamics.com"
    error_table = BC_ERROR_TABLE

    def __init__(
        self,
        *,
        http: HttpClient,
        tenant: str,
        environment: str,
        company_id: str,
        client_id: str | None = None,
        client_secret: str | Secret | None = None,
        token_url: str | None = None,
        scope: str = SCOPE,
        auth: AuthScheme | None = None,
        local_currency: str | None = None,
        conflict_attempts: int = 3,
        custom_account: str | None = DEFAULT_CUSTOM_ACCOUNT,
        gift_card_account: str | None = DEFAULT_GIFT_CARD_ACCOUNT,
        shipping_account: str | None = DEFAULT_SHIPPING_ACCOUNT,
        destination: str | None = None,
        base_url: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        if auth is None:
            if client_id is None or client_secret is None:
                raise ValueError("give client_id and client_secret, or an auth scheme")
            auth = OAuth2ClientCredentials(
                http,
                token_url or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
                client_id=client_id,
                client_secret=client_secret,
                scope=scope,
                clock=clock,
            )
        super().__init__(
            http=http,
            destination=destination,
            base_url=base_url,
            auth=auth,
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )
        if conflict_attempts < 1:
            raise ValueError("conflict_attempts must be at least 1")
        self.api_root = f"v2.0/{tenant}/{environment}/api/v2.0"
        self.company_path = f"{self.api_root}/companies({company_id})"
        self.local_currency = local_currency
        self.conflict_attempts = conflict_attempts
        self.conflicts_settled = 0
        self.custom_account = custom_account
        self.gift_card_account = gift_card_account
        self.shipping_account = shipping_account

    def build_rate_budget(self) -> RateBudget:
        """6,000 calls per sliding 5 minutes and 5 in flight."""
        return BusinessCentralBudget(self.destination, clock=self.clock)

    # ---- reading ---------------------------------------------------------------------------

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET ``path`` (under the API host, or an absolute URL) and decode it."""
        response = await self.call("GET", path, params=params)
        return response.json()

    async def pages(
        self, path: str, params: Params | None = None
    ) -> AsyncIterator[list[JSONObject]]:
        """Each page of a collection, following ``@odata.nextLink`` to the end."""
        body = await self.get_json(path, params)
        while True:
            yield list(body.get("value", []))
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return
            body = await self.get_json(str(next_link))

    async def get_all(self, path: str, params: Params | None = None) -> list[JSONObject]:
        """Every entity of a collection (all pages)."""
        out: list[JSONObject] = []
        async for page in self.pages(path, params):
            out.extend(page)
        return out

    async def companies(self) -> list[JSONObject]:
        """The companies of the environment."""
        return await self.get_all(f"{self.api_root}/companies")

    async def find_sales_order(self, order_id: str) -> JSONObject | None:
        """The sales order whose ``externalDocumentNumber`` carries ``order_id``, lines
        expanded, or None."""
        number = external_document_number(order_id)
        found = await self.get_all(
            f"{self.company_path}/salesOrders",
            {"$filter": eq_filter("externalDocumentNumber", number), "$expand": "salesOrderLines"},
        )
        if len(found) > 1:
            raise PermanentFailureError(
                f"{len(found)} sales orders carry externalDocumentNumber {number!r}; "
                "an operator must remove the duplicates"
            )
        return found[0] if found else None

    async def get_sales_order(self, bc_order_id: str) -> JSONObject:
        """One sales order by its BC id, lines expanded."""
        found: JSONObject = await self.get_json(
            self._order_path(bc_order_id), {"$expand": "salesOrderLines"}
        )
        return found

    async def sales_order_status(self, order_id: str) -> JSONObject:
        """Where the sales order of canonical ``order_id`` stands.

        Returns:
            ``bc_order_id``, ``number``, ``status``, ``fully_shipped`` and per Item line
            ``sku``, ``quantity``, ``shipped``, ``invoiced`` (decimal strings).

        Raises:
            PermanentFailureError: No sales order carries that id.
        """
        order = await self.find_sales_order(order_id)
        if order is not None:
            return _status(order)
        posted = await self.posted_status(order_id)
        if posted is None:
            raise PermanentFailureError(f"no Business Central sales order for order {order_id}")
        return posted

    async def posted_status(self, order_id: str) -> JSONObject | None:
        """The status of an order known only by its posted shipments, or None.

        Business Central deletes a sales order once it is completely shipped and invoiced;
        its posted shipments keep the ``externalDocumentNumber``. Status ``Posted``.
        """
        number = external_document_number(order_id)
        shipments = await self.get_all(
            f"{self.company_path}/salesShipments",
            {
                "$filter": eq_filter("externalDocumentNumber", number),
                "$expand": "salesShipmentLines",
            },
        )
        if not shipments:
            return None
        shipped: dict[str, Decimal] = {}
        for shipment in shipments:
            for line in shipment.get("salesShipmentLines") or []:
                if line.get("lineType") == "Item":
                    sku = str(line.get("lineObjectNumber"))
                    quantity = Decimal(str(line.get("quantity") or 0))
                    shipped[sku] = shipped.get(sku, Decimal(0)) + quantity
        return {
            "bc_order_id": shipments[0].get("orderId"),
            "number": shipments[0].get("orderNumber"),
            "status": "Posted",
            "fully_shipped": True,
            "lines": [
                {"sku": sku, "quantity": str(q), "shipped": str(q), "invoiced": str(q)}
                for sku, q in shipped.items()
            ],
        }

    async def _existing(self, order_id: str) -> JSONObject | None:
        """The create result of an order that exists, open or already posted and deleted."""
        order = await self.find_sales_order(order_id)
        if order is not None:
            return _order_result(order, created=False)
        posted = await self.posted_status(order_id)
        if posted is None:
            return None
        return {
            "bc_order_id": posted["bc_order_id"],
            "number": posted["number"],
            "external_document_number": external_document_number(order_id),
            "status": posted["status"],
            "created": False,
        }

    async def order_invoices(
        self, order_id: str, *, order_number: str | None = None
    ) -> list[JSONObject]:
        """The posted sales invoices of canonical ``order_id``, lines expanded.

        Found by the ``externalDocumentNumber`` the order gave them (and, when given, the
        BC ``orderNumber``, which leaves out a stray invoice carrying the same reference).
        """
        where = eq_filter("externalDocumentNumber", external_document_number(order_id))
        if order_number:
            where += " and " + eq_filter("orderNumber", order_number)
        return await self.get_all(
            f"{self.company_path}/salesInvoices",
            {"$filter": where, "$expand": "salesInvoiceLines"},
        )

    async def find_credit_memo(self, return_id: str) -> JSONObject | None:
        """The sales credit memo whose ``externalDocumentNumber`` carries ``return_id``,
        lines expanded, or None."""
        number = external_document_number(return_id)
        found = await self.get_all(
            f"{self.company_path}/salesCreditMemos",
            {
                "$filter": eq_filter("externalDocumentNumber", number),
                "$expand": "salesCreditMemoLines",
            },
        )
        if len(found) > 1:
            raise PermanentFailureError(
                f"{len(found)} sales credit memos carry externalDocumentNumber {number!r}; "
                "an operator must remove the duplicates"
            )
        return found[0] if found else None

    def _order_path(self, bc_order_id: str) -> str:
        return f"{self.company_path}/salesOrders({bc_order_id})"

    def _memo_path(self, memo_id: str) -> str:
        return f"{self.company_path}/salesCreditMemos({memo_id})"

    # ---- writing under ETags ---------------------------------------------------------------

    async def patch_entity(
        self, path: str, changes: Changes, *, current: JSONObject | None = None
    ) -> JSONObject:
        """PATCH an entity with its ETag; a stale ETag is settled by re-reading.

        On ``Request_EntityChanged`` (409 or 412) the entity is read again and the change
        re-applied to the fresh version (a function of the entity is re-evaluated on it);
        values it already has are not written. ``If-Match: *`` is never sent.

        Args:
            path: The entity's path.
            changes: Values to set, or a function of the current entity returning them.
            current: The entity as just read (saves a GET).

        Raises:
            ConflictError: It changed under us `conflict_attempts` times in a row.
        """
        entity = current if current is not None else await self.get_json(path)
        for _ in range(self.conflict_attempts):
            wanted = changes(entity) if callable(changes) else changes
            delta = changed(entity, wanted)
            if not delta:
                return entity
            try:
                response = await self.call(
                    "PATCH",
                    path,
                    json=delta,
                    headers={"If-Match": str(entity["@odata.etag"])},
                    idempotent=True,  # guarded by the ETag: a replay is refused, then re-read
                )
            except ConflictError as exc:
                if not has_code(exc, ENTITY_CHANGED):
                    raise
                self.conflicts_settled += 1
                entity = await self.get_json(path)
                continue
            updated: JSONObject = response.json()
            return updated
        raise ConflictError(
            f"{path} changed under us {self.conflict_attempts} times in a row; retry later"
        )

    # ---- commands --------------------------------------------------------------------------

    @handles(CREATE_ORDER, idempotent=False)
    async def create_sales_order(self, command: Command) -> JSONObject:
        """Create the sales order of ``payload.order_id`` unless it exists (deep insert).

        Returns:
            ``bc_order_id``, ``number``, ``external_document_number``, ``status`` and
            ``created`` (False when the lookup found it).
        """
        payload = command.payload
        if is_canonical(payload, "order") and not payload.get("customer_number"):
            payload = sales_order_payload(
                payload,
                await self._customer_number_of(payload),
                custom_account=self.custom_account,
                gift_card_account=self.gift_card_account,
                shipping_account=self.shipping_account,
            )
        body = sales_order_body(payload, local_currency=self.local_currency)
        existing = await self._existing(str(payload["order_id"]))
        if existing is not None:
            return existing
        response = await self.call("POST", f"{self.company_path}/salesOrders", json=body)
        return _order_result(response.json(), created=True)

    async def _customer_number_of(self, payload: Mapping[str, Any]) -> str:
        """The number of the customer with the canonical order's email.

        Raises:
            PermanentFailureError: The order has no email.
            RetryLaterError: No such customer yet (its ``customer.upsert`` may still be queued).
        """
        email = order_email(payload)
        if email is None:
            raise PermanentFailureError(f"{CREATE_ORDER}: the order has no customer email")
        found = await self.get_all(
            f"{self.company_path}/customers", {"$filter": eq_filter("email", email)}
        )
        if not found:
            raise RetryLaterError(f"{CREATE_ORDER}: no customer with email {email!r} yet")
        return str(found[0]["number"])

    async def settle_ambiguous(self, command: Command) -> JSONObject | None:
        """Look the document up by the ``externalDocumentNumber`` the command gives it."""
        if command.kind == CLOSE_ORDER:
            close_id = str(command.payload.get("order_id") or "")
            if not close_id or await self.find_sales_order(close_id) is not None:
                return None  # closing it again (fresh ETags, only what is left) is safe
            posted = await self.posted_status(close_id)
            if posted is not None:
                return _closed(close_id, posted, 0)
            return _deleted(close_id, None)
        if command.kind in (AUTHORIZE_RETURN, CREDIT_RETURN):
            return await self._settle_return(command)
        if command.kind != CREATE_ORDER:
            return None
        order = command.payload.get("order")
        order_id = command.payload.get("order_id") or (
            order.get("id") if isinstance(order, Mapping) else None
        )
        return await self._existing(str(order_id or ""))

    async def _settle_return(self, command: Command) -> JSONObject | None:
        payload = command.payload
        ret = payload.get("return")
        return_id = (
            payload.get("return_id")
            if command.kind == CREDIT_RETURN
            else (ret.get("id") if isinstance(ret, Mapping) else None)
        )
        if not isinstance(return_id, str) or not return_id.strip():
            return None
        memo = await self.find_credit_memo(return_id)
        if memo is None:
            return None  # not created: creating it is safe
        if command.kind == AUTHORIZE_RETURN:
            return credit_memo_result(memo, return_id=return_id)
        if memo.get("status") == DRAFT:
            return None  # not posted: posting it is safe
        return {**credit_memo_result(memo, return_id=return_id), "credit_id": _credit_id(payload)}

    @handles(UPDATE_ORDER)
    async def update_sales_order(self, command: Command) -> JSONObject:
        """Apply ``payload.changes`` to the sales order of ``payload.order_id``.

        Canonical changes are mapped (`crossdock.connectors.businesscentral.edits`):
        ``shipping_address`` to the ``shipTo*`` header fields, ``lines`` to line edits (a
        PATCH of the line's ``quantity`` under its ETag, a POST of a new line, a DELETE of a
        line nothing of which shipped). Other keys are header fields by Business Central's
        names, PATCHed as given. Stale ETags are settled by re-reading; what the order already
        has is not written, so a retry (an ambiguous POST included: it is retried, and the
        retry reads the order again) changes nothing twice.

        Returns:
            The order's create result fields and ``updated`` (the change names).
        """
        changes = command.payload.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise PermanentFailureError(f"{UPDATE_ORDER} needs a non-empty changes object")
        order = await self._order_of(command.payload)
        path = self._order_path(str(order["id"]))
        header = header_changes(changes)
        plan = line_plan(order, changes["lines"]) if "lines" in changes else []
        updated = order
        if header:
            updated = await self.patch_entity(path, header, current=order)
        for edit in plan:
            await self._edit_line(path, edit)
        if plan:
            updated = await self.get_sales_order(str(order["id"]))
        return {**_order_result(updated, created=False), "updated": sorted(changes)}

    async def _edit_line(self, order_path: str, edit: LineEdit) -> None:
        """Perform one line edit; a stale ETag is settled by re-reading the line."""
        if edit.action == "add":
            await self.call(
                "POST",
                f"{order_path}/salesOrderLines",
                json=edit.body,
                idempotent=False,  # a second line if resent blindly: the retry re-reads
            )
            return
        line_path = f"{order_path}/salesOrderLines({edit.line['id']})"
        quantity = edit.quantity
        if edit.action == "set":
            await self.patch_entity(
                line_path,
                lambda fresh: {
                    "quantity": quantity
                    if quantity is not None
                    else Decimal(str(fresh.get("shippedQuantity") or 0))
                },
                current=dict(edit.line),
            )
            return
        line = edit.line
        for _ in range(self.conflict_attempts):
            if Decimal(str(line.get("shippedQuantity") or 0)) > 0:
                # Shipped since it was read: cancel only what is left.
                await self._edit_line(order_path, LineEdit("set", line=line))
                return
            try:
                await self.call(
                    "DELETE",
                    line_path,
                    headers={"If-Match": str(line["@odata.etag"])},
                    idempotent=True,  # guarded by the ETag; a repeat finds it gone
                )
                return
            except ConflictError as exc:
                if not has_code(exc, ENTITY_CHANGED):
                    raise
                self.conflicts_settled += 1
            except PermanentFailureError as exc:
                if exc.classification is None or NOT_FOUND not in exc.classification.codes:
                    raise
                return  # already gone
            try:
                line = await self.get_json(line_path)
            except PermanentFailureError as exc:
                if exc.classification is None or NOT_FOUND not in exc.classification.codes:
                    raise
                return  # deleted by someone else meanwhile
        raise ConflictError(
            f"{line_path} changed under us {self.conflict_attempts} times in a row; retry later"
        )

    @handles(CLOSE_ORDER, idempotent=False)
    async def close_sales_order(self, command: Command) -> JSONObject:
        """Cancel what is left to ship of the sales order of ``payload.order_id``.

        Business Central has no "close". A sales order nothing of which is shipped is deleted
        (``DELETE`` with its ETag in ``If-Match``). On a partly shipped one each line's
        ``quantity`` is lowered to its ``shippedQuantity`` (a PATCH under the line's ETag): the
        shipped part stays, invoiced. A stale ETag is settled by reading again, never by
        ``If-Match: *``. An order no longer there, or with nothing left to ship, is done.

        Returns:
            ``erp_id`` / ``bc_order_id`` (None when it was not there), ``number``,
            ``external_document_number``, ``status`` (`DELETED`, or `CLOSED` with
            ``closed_lines``: the lines whose remainder was cancelled).

        Raises:
            ConflictError: It changed under us `conflict_attempts` times in a row.
        """
        order_id = command.payload.get("order_id")
        if not isinstance(order_id, str) or not order_id.strip():
            raise PermanentFailureError(f"{CLOSE_ORDER} needs a non-empty order_id")
        for _ in range(self.conflict_attempts):
            order = await self.find_sales_order(order_id)
            if order is None:
                posted = await self.posted_status(order_id)
                if posted is not None:  # shipped and invoiced in full, then deleted by BC
                    return _closed(order_id, posted, 0)
                return _deleted(order_id, None)
            if any(
                Decimal(str(line.get("shippedQuantity") or 0)) > 0
                for line in order.get("salesOrderLines") or []
            ):
                return await self._close_remainder(order_id, order)
            try:
                await self.call(
                    "DELETE",
                    self._order_path(str(order["id"])),
                    headers={"If-Match": str(order["@odata.etag"])},
                    idempotent=False,  # an ambiguous DELETE is settled by a lookup
                )
            except ConflictError as exc:
                if not has_code(exc, ENTITY_CHANGED):
                    raise
                self.conflicts_settled += 1
                continue
            except PermanentFailureError as exc:
                if exc.classification is None or NOT_FOUND not in exc.classification.codes:
                    raise
                continue  # deleted by someone else meanwhile: the lookup will say so
            return _deleted(order_id, order)
        raise ConflictError(
            f"sales order of {order_id} changed under us {self.conflict_attempts} times in a "
            "row; retry later"
        )

    async def _close_remainder(self, order_id: str, order: JSONObject) -> JSONObject:
        """Lower each line's quantity to what it shipped (each PATCH settled on its own)."""
        path = self._order_path(str(order["id"]))
        remainder = close_plan(order)
        for line in remainder:
            await self.patch_entity(
                f"{path}/salesOrderLines({line['id']})",
                lambda fresh: {"quantity": Decimal(str(fresh.get("shippedQuantity") or 0))},
                current=dict(line),
            )
        return _closed(order_id, order, len(remainder))

    @handles(FULFIL_ORDER)
    async def record_fulfilment(self, command: Command) -> JSONObject:
        """Post shipment and invoice up to ``payload.lines`` (cumulative ``quantity_shipped``
        per ``sku``; all outstanding when absent).

        The shipped quantities are read first: what is already shipped is not posted again.
        The invoice also takes units an earlier posting shipped without invoicing.

        Returns:
            The order status (see `sales_order_status`) and ``posted`` (whether this call
            posted a shipment).
        """
        targets = _targets(command.payload.get("lines"))
        order = await self._order_of(command.payload, posted_ok=True)
        if order.get("status") == "Posted":  # completely shipped and invoiced, then deleted
            return {**order, "posted": False}
        plan = ship_quantities(order, targets)
        if not plan:
            return {**_status(order), "posted": False}
        path = self._order_path(order["id"])
        for line in order.get("salesOrderLines") or []:
            if line.get("lineType") != "Item":
                continue
            quantity = plan.get(str(line["id"]), Decimal(0))
            # Invoice what ships now and whatever an earlier posting shipped but did not invoice.
            behind = Decimal(str(line.get("shippedQuantity") or 0)) - Decimal(
                str(line.get("invoicedQuantity") or 0)
            )
            await self.patch_entity(
                f"{path}/salesOrderLines({line['id']})",
                {"shipQuantity": quantity, "invoiceQuantity": quantity + max(behind, Decimal(0))},
                current=line,
            )
        await self.call("POST", f"{path}/Microsoft.NAV.shipAndInvoice")
        order_id = str(order.get("externalDocumentNumber") or "")
        after = await self.find_sales_order(order_id) if order_id else None
        if after is None and order_id:
            posted = await self.posted_status(order_id)
            if posted is not None:
                return {**posted, "posted": True}
        fresh = after if after is not None else await self.get_sales_order(order["id"])
        return {**_status(fresh), "posted": True}

    @handles(RECORD_FULFILLMENT, idempotent=False)
    async def record_shipment(self, command: Command) -> JSONObject:
        """Record the catalogue's ``fulfillment.record`` (one shipment) as `record_fulfilment`.

        With ``payload.shipped_to_date`` the cumulative quantities are given and a retry posts
        nothing twice; without it the shipment's units are added to what the order has
        shipped, which a retry after an unknown outcome could post again.
        """
        payload = command.payload
        shipment = payload.get("shipment")
        order_ref = shipment.get("order") if isinstance(shipment, Mapping) else None
        order_id = payload.get("order_id") or (
            order_ref.get("id") if isinstance(order_ref, Mapping) else None
        )
        if not order_id:
            raise PermanentFailureError(f"{RECORD_FULFILLMENT} needs order_id")
        shipped: dict[str, Decimal] = {}
        if payload.get("shipped_to_date") is None:
            order = await self._order_of({"order_id": order_id}, posted_ok=True)
            if order.get("status") == "Posted":
                return {**order, "posted": False}
            for line in order.get("salesOrderLines") or []:
                if line.get("lineType") == "Item":
                    sku = str(line.get("lineObjectNumber"))
                    shipped[sku] = shipped.get(sku, Decimal(0)) + Decimal(
                        str(line.get("shippedQuantity") or 0)
                    )
        targets = shipment_targets(payload, shipped)
        lines = [{"sku": sku, "quantity_shipped": str(q)} for sku, q in targets.items()]
        fulfil = {"order_id": str(order_id), "lines": lines}
        return await self.record_fulfilment(replace(command, kind=FULFIL_ORDER, payload=fulfil))

    @handles(INVOICE_CREATE)
    async def create_invoice(self, command: Command) -> JSONObject:
        """Report the posted invoices of ``payload.order_id`` (``invoice_id``: the hub's id).

        Business Central invoices each shipment as it posts it (``shipAndInvoice``): this
        step posts nothing, so repeating it is harmless.

        Returns:
            `invoice_result`: ``id`` and ``number`` of the first invoice, ``invoices`` (all
            of them), ``total``.

        Raises:
            RetryLaterError: A line is shipped and not invoiced, or nothing is invoiced yet
                (the sales order may not even be there yet).
        """
        order_id = _required(command.payload, "order_id", INVOICE_CREATE)
        invoice_id = command.payload.get("invoice_id")
        order = await self.find_sales_order(order_id)
        if order is not None:
            pending = uninvoiced(order)
            if pending:
                raise RetryLaterError(
                    f"{INVOICE_CREATE}: sales order {order.get('number')} has shipped lines not "
                    f"invoiced yet ({', '.join(pending)}); retry once they are invoiced"
                )
        number = str(order.get("number")) if order is not None else None
        invoices = await self.order_invoices(order_id, order_number=number)
        if not invoices:
            where = f"sales order {number}" if number else f"order {order_id}"
            raise RetryLaterError(
                f"{INVOICE_CREATE}: nothing of {where} is invoiced yet in Business Central "
                "(invoices are posted with each shipment); retry later"
            )
        return invoice_result(
            invoices, order_id=order_id, invoice_id=str(invoice_id) if invoice_id else None
        )

    @handles(AUTHORIZE_RETURN, idempotent=False)
    async def authorize_return(self, command: Command) -> JSONObject:
        """Create the draft sales credit memo of ``payload.return`` (return.v1) unless it
        exists.

        Items by SKU at the order's prices (its open lines, else its posted invoices), no
        more than were invoiced; applied to the first invoice that covers the whole return.

        Returns:
            `credit_memo_result` (``status`` ``Draft``, ``created``).

        Raises:
            PermanentFailureError: An invalid return, a line without SKU, an item the order
                lacks or more units than it invoiced.
            RetryLaterError: Neither the sales order nor an invoice of it is there yet.
        """
        ret = _return(command.payload)
        return_id = str(ret.id)
        order_id = _order_of_return(command.payload, ret)
        existing = await self.find_credit_memo(return_id)
        if existing is not None:
            return credit_memo_result(existing, return_id=return_id)
        returned = returned_quantities(ret, AUTHORIZE_RETURN)
        order = await self.find_sales_order(order_id)
        invoices = await self.order_invoices(
            order_id, order_number=str(order["number"]) if order is not None else None
        )
        if order is not None:
            sold = sku_lines(order.get("salesOrderLines") or [], invoiced_key="invoicedQuantity")
            source: Mapping[str, Any] = order
        elif invoices:
            sold = sku_lines(
                [line for i in invoices for line in i.get("salesInvoiceLines") or []],
                invoiced_key=None,
            )
            source = invoices[0]
        else:
            raise RetryLaterError(
                f"{AUTHORIZE_RETURN}: no sales order or invoice of order {order_id} in Business "
                "Central yet; retry later"
            )
        invoice = crediting_invoice(invoices, returned)
        body = credit_memo_body(
            ret,
            returned,
            sold,
            customer_number=str(source.get("customerNumber")),
            currency_code=source.get("currencyCode"),
            invoice_id=str(invoice["id"]) if invoice is not None else None,
            kind=AUTHORIZE_RETURN,
        )
        response = await self.call("POST", f"{self.company_path}/salesCreditMemos", json=body)
        return credit_memo_result(response.json(), return_id=return_id, created=True)

    @handles(CREDIT_RETURN, idempotent=False)
    async def credit_return(self, command: Command) -> JSONObject:
        """Post the credit memo of ``payload.return_id`` (``Microsoft.NAV.post``).

        Returns:
            `credit_memo_result` after posting (``status`` ``Open``, the posted ``number``),
            ``posted`` (whether this call posted it) and ``credit_id`` (echoed).

        Raises:
            RetryLaterError: No credit memo for the return yet (its ``return.authorize`` may
                still be queued).
        """
        return_id = _required(command.payload, "return_id", CREDIT_RETURN)
        credit_id = _credit_id(command.payload)
        memo = await self.find_credit_memo(return_id)
        if memo is None:
            raise RetryLaterError(
                f"{CREDIT_RETURN}: no credit memo for return {return_id} yet "
                f"({AUTHORIZE_RETURN} may still be queued); retry later"
            )
        if memo.get("status") != DRAFT:
            return {**credit_memo_result(memo, return_id=return_id), "credit_id": credit_id}
        path = self._memo_path(str(memo["id"]))
        try:
            await self.call("POST", f"{path}/Microsoft.NAV.post", idempotent=False)
        except PermanentFailureError:
            fresh = await self.find_credit_memo(return_id)
            if fresh is None or fresh.get("status") == DRAFT:
                raise
            # Posted meanwhile (by someone else), so refused: done.
            return {**credit_memo_result(fresh, return_id=return_id), "credit_id": credit_id}
        posted = await self.get_json(path, {"$expand": "salesCreditMemoLines"})
        result = credit_memo_result(posted, return_id=return_id, posted=True)
        return {**result, "credit_id": credit_id}

    @handles(UPSERT_CUSTOMER)
    async def upsert_customer(self, command: Command) -> JSONObject:
        """Create or update a customer found by ``number``, else by ``email``.

        A canonical payload (``{customer}``, customer.v1) is found by its email.

        Returns:
            ``bc_customer_id``, ``number`` and ``created``.
        """
        payload = command.payload
        if is_canonical(payload, "customer"):
            payload = customer_payload(payload)
        fields = customer_fields(payload)
        existing = await self._find_customer(fields)
        if existing is None:
            try:
                response = await self.call("POST", f"{self.company_path}/customers", json=fields)
            except ConflictError as exc:
                if not has_code(exc, SAME_KEY_EXISTS):
                    raise
            except AmbiguousOutcomeError:
                pass
            else:
                return _customer_result(response.json(), created=True)
            existing = await self._find_customer(fields)
            if existing is None:
                raise RetryLaterError("the customer was not created; safe to send again")
        changes = {k: v for k, v in fields.items() if k != "number"}
        path = f"{self.company_path}/customers({existing['id']})"
        return _customer_result(await self.patch_entity(path, changes, current=existing), False)

    async def _find_customer(self, fields: Mapping[str, Any]) -> JSONObject | None:
        key = "number" if fields.get("number") else "email"
        found = await self.get_all(
            f"{self.company_path}/customers", {"$filter": eq_filter(key, str(fields[key]))}
        )
        return found[0] if found else None

    async def _order_of(self, payload: Mapping[str, Any], *, posted_ok: bool = False) -> JSONObject:
        """The open sales order a payload names (or, with ``posted_ok``, its posted status)."""
        if payload.get("bc_order_id"):
            return await self.get_sales_order(str(payload["bc_order_id"]))
        order_id = str(payload.get("order_id") or "")
        order = await self.find_sales_order(order_id)
        if order is None and posted_ok:
            order = await self.posted_status(order_id)
        if order is None:
            raise PermanentFailureError(
                f"no Business Central sales order for order {payload.get('order_id')}"
            )
        return order

    # ---- polling ---------------------------------------------------------------------------

    async def poll(
        self,
        entity: str,
        cursor: PollCursor,
        *,
        fields: Sequence[str] = (),
        expand: str | None = None,
    ) -> PollResult:
        """Entities of ``entity`` changed since ``cursor`` (``lastModifiedDateTime``), all pages.

        Args:
            entity: ``salesOrders``, ``items``, ``customers``...
            cursor: Where the previous poll stopped.
            fields: ``$select`` (``id`` and ``lastModifiedDateTime`` are always asked for).
            expand: A child collection to expand, e.g. ``salesOrderLines``.
        """
        params: dict[str, str] = {"$orderby": "lastModifiedDateTime asc"}
        where = cursor.filter()
        if where is not None:
            params["$filter"] = where
        if fields:
            wanted = dict.fromkeys(("id", "lastModifiedDateTime", *fields))
            params["$select"] = ",".join(wanted)
        if expand is not None:
            params["$expand"] = expand
        records: list[JSONObject] = []
        pages = 0
        async for page in self.pages(f"{self.company_path}/{entity}", params):
            pages += 1
            records.extend(r for r in page if cursor.is_new(r))
        return PollResult(records, cursor.advance(records), pages)

    async def poll_orders(self, cursor: PollCursor) -> PollResult:
        """Sales orders changed since ``cursor``, lines expanded (for
        `order_from_businesscentral`)."""
        return await self.poll("salesOrders", cursor, expand="salesOrderLines")

    async def poll_inventory(self, cursor: PollCursor) -> PollResult:
        """Items (with ``inventory``) changed since ``cursor``."""
        return await self.poll("items", cursor, fields=INVENTORY_FIELDS)

    async def poll_feed(
        self, cursors: CursorStore, feed: Literal["orders", "inventory"]
    ) -> PollResult:
        """Poll ``feed`` from the cursor stored in the backbone, then store the new cursor.

        Raises:
            StaleFlowState: Another poller of the same feed saved first.
        """
        key = f"{self.destination}:{feed}"
        cursor, version = await cursors.load(key)
        poll = self.poll_orders if feed == "orders" else self.poll_inventory
        result = await poll(cursor)
        await cursors.save(key, result.cursor, version)
        return result


def _targets(lines: Any) -> dict[str, Decimal] | None:
    if lines is None:
        return None
    if not isinstance(lines, list):
        raise PermanentFailureError(f"{FULFIL_ORDER}: lines must be a list")
    targets: dict[str, Decimal] = {}
    for index, line in enumerate(lines):
        if not isinstance(line, Mapping) or not line.get("sku"):
            raise PermanentFailureError(f"{FULFIL_ORDER}: lines[{index}] needs a sku")
        try:
            quantity = Decimal(str(line.get("quantity_shipped")))
        except ArithmeticError:
            raise PermanentFailureError(
                f"{FULFIL_ORDER}: lines[{index}].quantity_shipped must be a number"
            ) from None
        targets[str(line["sku"])] = quantity
    return targets


def _required(payload: Mapping[str, Any], key: str, kind: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PermanentFailureError(f"{kind} needs a non-empty {key}")
    return value


def _credit_id(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("credit_id")
    return str(value) if value else None


def _return(payload: Mapping[str, Any]) -> Return:
    try:
        ret = Return.model_validate(payload.get("return"))
    except ValidationError as exc:
        raise PermanentFailureError(
            f"{AUTHORIZE_RETURN}: return is not a valid return.v1: {exc}"
        ) from exc
    if not ret.id:
        raise PermanentFailureError(f"{AUTHORIZE_RETURN}: the return needs its hub id")
    return ret


def _order_of_return(payload: Mapping[str, Any], ret: Return) -> str:
    given = payload.get("order_id")
    if given is not None and (not isinstance(given, str) or not given.strip()):
        raise PermanentFailureError(f"{AUTHORIZE_RETURN}: order_id must be a non-empty string")
    if given and ret.order.id and given != ret.order.id:
        raise PermanentFailureError(
            f"{AUTHORIZE_RETURN}: order_id {given!r} is not the return's order {ret.order.id!r}"
        )
    order_id = given or ret.order.id
    if not order_id:
        raise PermanentFailureError(
            f"{AUTHORIZE_RETURN}: the return's order needs its hub id (or give order_id)"
        )
    return str(order_id)


def _closed(order_id: str, order: Mapping[str, Any], closed_lines: int) -> JSONObject:
    bc_id = order.get("id") or order.get("bc_order_id")
    return {
        "erp_id": bc_id,
        "bc_order_id": bc_id,
        "number": order.get("number"),
        "external_document_number": external_document_number(order_id),
        "status": CLOSED,
        "closed_lines": closed_lines,
    }


def _deleted(order_id: str, order: Mapping[str, Any] | None) -> JSONObject:
    bc_id = order.get("id") if order is not None else None
    return {
        "erp_id": bc_id,
        "bc_order_id": bc_id,
        "number": order.get("number") if order is not None else None,
        "external_document_number": external_document_number(order_id),
        "status": DELETED,
    }


def _order_result(order: Mapping[str, Any], *, created: bool) -> JSONObject:
    return {
        "bc_order_id": order.get("id"),
        "number": order.get("number"),
        "external_document_number": order.get("externalDocumentNumber"),
        "status": order.get("status"),
        "created": created,
    }


def _status(order: Mapping[str, Any]) -> JSONObject:
    return {
        "bc_order_id": order.get("id"),
        "number": order.get("number"),
        "status": order.get("status"),
        "fully_shipped": bool(order.get("fullyShipped")),
        "lines": [
            {
                "sku": line.get("lineObjectNumber"),
                "quantity": str(line.get("quantity")),
                "shipped": str(line.get("shippedQuantity")),
                "invoiced": str(line.get("invoicedQuantity")),
            }
            for line in order.get("salesOrderLines") or []
            if line.get("lineType") == "Item"
        ],
    }


def _customer_result(customer: Mapping[str, Any], created: bool) -> JSONObject:
    return {
        "bc_customer_id": customer.get("id"),
        "number": customer.get("number"),
        "created": created,
    }
