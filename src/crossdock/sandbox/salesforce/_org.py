"""The org's records and the rules a write must pass, with Change Data Capture on commit.

Every write runs inside a `Transaction` (one REST call, or one collection): its changes are
published as change events when it commits, and an all-or-none collection rolls back to the
snapshot taken when it began.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from crossdock.sandbox.salesforce import _ids
from crossdock.sandbox.salesforce._cdc import Change, ChangeLog
from crossdock.sandbox.salesforce._clock import VirtualClock
from crossdock.sandbox.salesforce._errors import SalesforceError
from crossdock.sandbox.salesforce._schema import (
    CASE_STATUSES,
    OBJECTS,
    ORDER_STATUSES,
    FieldSpec,
    ObjectSpec,
)

Record = dict[str, Any]
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CDC_SKIP = {"Id", "IsDeleted", "SystemModstamp"}
INTEGRATION_USER = _ids.make_id("User", 1)


@dataclass
class Transaction:
    """The changes of one call, published together when it commits.

    Attributes:
        origin: The ``changeOrigin`` of the change events.
        changes: The changes made so far, in order.
    """

    origin: str
    changes: list[Change] = field(default_factory=list)


class Org:
    """The records of a simulated org and every write rule.

    Args:
        data: The scenario data: ``records`` (a list of ``{"type", ...fields}`` loaded as is),
            ``non_unique_external_ids`` (fields whose uniqueness is off).
        seed: Seeds the transaction keys.
        clock: The virtual clock.
        changes: Where committed changes go.
    """

    def __init__(
        self, data: Mapping[str, Any], seed: int, clock: VirtualClock, changes: ChangeLog
    ) -> None:
        self.clock = clock
        self.changes = changes
        self.records: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        self._numbers: dict[str, int] = dict.fromkeys(OBJECTS, 0)
        self._random = random.Random(seed)
        self._non_unique = set(data.get("non_unique_external_ids", []))
        self._commit_number = 10_000_000 + self._random.randrange(1_000_000)
        for raw in data.get("records", []):
            self._seed_record(dict(raw))

    # -- reading ---------------------------------------------------------------------------

    def spec(self, sobject: str) -> ObjectSpec:
        """The object's spec; NOT_FOUND for an unknown type (as the REST API answers)."""
        found = OBJECTS.get(sobject)
        if found is None:
            raise SalesforceError(
                "NOT_FOUND", f"The requested resource does not exist: sobject {sobject}", status=404
            )
        return found

    def get(self, sobject: str, record_id: str) -> Record:
        """One record by id; NOT_FOUND when it is not there (deleted included)."""
        self.spec(sobject)
        normalised = _ids.normalise(record_id)
        record = self.records[sobject].get(normalised or "")
        if record is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
        return record

    def find(self, sobject: str, field_name: str, value: Any) -> list[Record]:
        """Records whose ``field_name`` equals ``value`` (text compared case-insensitively,
        as external ids are)."""
        spec = self.spec(sobject)
        if field_name == "Id":
            normalised = _ids.normalise(str(value))
            hit = self.records[sobject].get(normalised or "")
            return [hit] if hit is not None else []
        if field_name not in spec.fields or not spec.fields[field_name].external_id:
            raise SalesforceError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
                status=404,
            )
        wanted = str(value).lower()
        return [
            r
            for r in self.records[sobject].values()
            if r.get(field_name) is not None and str(r[field_name]).lower() == wanted
        ]

    def view(self, sobject: str, record: Record, api_version: str) -> Record:
        """The record as the REST API returns it: ``attributes`` first, every field."""
        spec = self.spec(sobject)
        out: Record = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{api_version}/sobjects/{sobject}/{record['Id']}",
            }
        }
        for name in spec.fields:
            out[name] = record.get(name)
        return out

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self, origin: str) -> Iterator[Transaction]:
        """Run the writes of one call: their changes publish together when it succeeds, and
        everything rolls back to where it was when it fails."""
        snapshot = self.snapshot()
        tx = Transaction(origin)
        try:
            yield tx
        except BaseException:
            self.restore(snapshot)
            raise
        self.commit(tx)

    def snapshot(self) -> tuple[dict[str, dict[str, Record]], dict[str, int]]:
        """A copy of every record, to roll back to (values are immutable scalars, so one
        level of copying per record is enough)."""
        records = {
            name: {i: dict(r) for i, r in found.items()} for name, found in self.records.items()
        }
        return records, dict(self._numbers)

    def restore(self, snapshot: tuple[dict[str, dict[str, Record]], dict[str, int]]) -> None:
        """Go back to `snapshot`."""
        self.records, self._numbers = snapshot

    def begin(self, origin: str) -> Transaction:
        """A transaction the caller commits (or abandons after restoring a snapshot)."""
        return Transaction(origin)

    def commit(self, tx: Transaction) -> None:
        """Publish the change events of a transaction that succeeded."""
        self._publish(tx)

    def _publish(self, tx: Transaction) -> None:
        published = [c for c in tx.changes if OBJECTS[c.entity].cdc]
        if not published:
            return
        self._commit_number += self._random.randint(1, 9)
        key = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        self.changes.publish(
            published,
            origin=tx.origin,
            transaction_key=key,
            commit_number=self._commit_number,
            commit_user=INTEGRATION_USER,
            commit_ms=self.clock.now_ms(),
        )

    # -- writes ----------------------------------------------------------------------------

    def create(self, tx: Transaction, sobject: str, body: Mapping[str, Any]) -> str:
        """Insert a record; return its id."""
        spec = self.spec(sobject)
        values = self._coerce(spec, body, creating=True)
        missing = [
            f.name for f in spec.fields.values() if f.required and values.get(f.name) is None
        ]
        if missing:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        self._numbers[sobject] += 1
        record_id = _ids.make_id(sobject, self._numbers[sobject])
        now = self.clock.iso()
        record: Record = dict.fromkeys(spec.fields) | {
            "Id": record_id,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": INTEGRATION_USER,
            "LastModifiedById": INTEGRATION_USER,
            "IsDeleted": False,
        }
        record.update(values)
        self._check_unique(spec, record)
        self._rules_on_create(sobject, record)
        self.records[sobject][record_id] = record
        tx.changes.append(Change(sobject, record_id, "CREATE", self._cdc_fields(record)))
        self._after_write(tx, sobject, record)
        return record_id

    def update(
        self, tx: Transaction, sobject: str, record_id: str, body: Mapping[str, Any]
    ) -> None:
        """Update a record's fields."""
        spec = self.spec(sobject)
        record = self.get(sobject, record_id)
        values = self._coerce(spec, body, creating=False)
        nulled_required = [
            name for name, value in values.items() if value is None and spec.fields[name].required
        ]
        if nulled_required:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(nulled_required)}]",
                nulled_required,
            )
        updated = {**record, **values}
        self._check_unique(spec, updated)
        self._rules_on_update(sobject, record, updated)
        changed = [name for name, value in values.items() if record.get(name) != value]
        updated["LastModifiedDate"] = updated["SystemModstamp"] = self.clock.iso()
        record.clear()
        record.update(updated)
        self._derive(sobject, record)
        fields = {name: record[name] for name in changed if record[name] is not None}
        fields["LastModifiedDate"] = record["LastModifiedDate"]
        nulled = [name for name in changed if record[name] is None]
        tx.changes.append(
            Change(sobject, record["Id"], "UPDATE", fields, [*changed, "LastModifiedDate"], nulled)
        )
        self._after_write(tx, sobject, record)

    def delete(self, tx: Transaction, sobject: str, record_id: str) -> None:
        """Delete a record (an order's items go with it)."""
        record = self.get(sobject, record_id)
        if sobject == "OrderItem":
            order = self.records["Order"].get(record["OrderId"])
            if order is not None and order["StatusCode"] == "Activated":
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can't delete an order product from an activated order.",
                )
        if sobject == "Order" and record["StatusCode"] == "Activated":
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION", "You can't delete an activated order."
            )
        del self.records[sobject][record["Id"]]
        tx.changes.append(Change(sobject, record["Id"], "DELETE", {}))
        if sobject == "Order":
            for item_id in [
                i
                for i, item in self.records["OrderItem"].items()
                if item["OrderId"] == record["Id"]
            ]:
                del self.records["OrderItem"][item_id]
        elif sobject == "OrderItem" and record["OrderId"] in self.records["Order"]:
            self._recalculate(tx, record["OrderId"])

    def upsert(
        self,
        tx: Transaction,
        sobject: str,
        ext_field: str,
        value: str,
        body: Mapping[str, Any],
        *,
        update_only: bool = False,
    ) -> tuple[str, bool] | list[str]:
        """Upsert by external id.

        Returns:
            ``(id, created)``, or the ids of every matching record when several match
            (nothing is written: the caller answers 300).
        """
        spec = self.spec(sobject)
        matches = self.find(sobject, ext_field, value)
        if "Id" in body and ext_field != "Id":
            raise SalesforceError(
                "INVALID_FIELD", "Unable to create/update fields: Id. Use the record's URL.", ["Id"]
            )
        given = body.get(ext_field)
        if given is not None and str(given) != value:
            raise SalesforceError(
                "INVALID_FIELD",
                f"The value of {ext_field} in the body does not match the URL: {given}",
                [ext_field],
            )
        fields = {k: v for k, v in body.items() if k != ext_field}
        if len(matches) > 1:
            return [m["Id"] for m in matches]
        if matches:
            self.update(tx, sobject, matches[0]["Id"], fields)
            return matches[0]["Id"], False
        if update_only or ext_field == "Id":
            raise SalesforceError(
                "NOT_FOUND",
                f"Provided external ID field value does not exist: {value}",
                status=404,
            )
        if not spec.fields[ext_field].readonly:
            fields[ext_field] = value
        return self.create(tx, sobject, fields), True

    # -- rules -----------------------------------------------------------------------------

    def _coerce(self, spec: ObjectSpec, body: Mapping[str, Any], *, creating: bool) -> Record:
        relationships = spec.relationships()
        out: Record = {}
        for name, value in body.items():
            if name == "attributes":
                continue
            if name in relationships and isinstance(value, Mapping):
                lookup = relationships[name]
                out[lookup.name] = self._resolve_parent(lookup, value)
                continue
            field_spec = spec.fields.get(name)
            if field_spec is None:
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {spec.name}",
                    [name],
                )
            if field_spec.readonly:
                verb = "create" if creating else "update"
                raise SalesforceError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to {verb} fields: {name}. Please check the security settings of "
                    "this field and verify that it is read/write for your profile or permission "
                    "set.",
                    [name],
                )
            out[name] = self._value(field_spec, value)
        return out

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        if value is None:
            return None
        if spec.kind == "number":
            if isinstance(value, bool):
                raise _parse_error(spec, value, "double")
            try:
                number = Decimal(str(value)) if isinstance(value, int | str | Decimal) else None
            except InvalidOperation:
                number = None
            if number is None:
                raise _parse_error(spec, value, "double")
            return number
        if spec.kind == "bool":
            if not isinstance(value, bool):
                raise _parse_error(spec, value, "boolean")
            return value
        if spec.kind == "date":
            if not isinstance(value, str) or not _DATE_RE.match(value):
                raise _parse_error(spec, value, "date")
            return value
        if spec.kind == "id":
            return self._reference(spec, value)
        if not isinstance(value, str | int | Decimal):
            raise _parse_error(spec, value, "String")
        return str(value)

    def _reference(self, spec: FieldSpec, value: Any) -> str:
        normalised = _ids.normalise(str(value))
        label = f"{spec.ref} ID" if spec.ref else spec.name
        if normalised is None:
            raise SalesforceError(
                "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [spec.name]
            )
        if spec.ref is not None and _ids.sobject_of(normalised) != spec.ref:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"field integrity exception: {spec.name} (id value of incorrect type: {value})",
                [spec.name],
            )
        if (
            spec.ref is not None
            and spec.ref in self.records
            and normalised not in self.records[spec.ref]
        ):
            raise SalesforceError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {value}",
                [spec.name],
            )
        return normalised

    def _resolve_parent(self, lookup: FieldSpec, ref: Mapping[str, Any]) -> str:
        assert lookup.ref is not None
        keys = [k for k in ref if k != "attributes"]
        if len(keys) != 1:
            raise SalesforceError(
                "INVALID_FIELD",
                f"{lookup.relationship}: a parent reference needs exactly one external id field",
                [lookup.name],
            )
        found = self.find(lookup.ref, keys[0], ref[keys[0]])
        if len(found) != 1:
            what = "No such" if not found else "More than one"
            raise SalesforceError(
                "INVALID_FIELD",
                f"{what} {lookup.ref} record found with {keys[0]} = {ref[keys[0]]}",
                [lookup.name],
            )
        return str(found[0]["Id"])

    def _check_unique(self, spec: ObjectSpec, record: Record) -> None:
        for f in spec.fields.values():
            if not f.unique or f.name in self._non_unique or record.get(f.name) is None:
                continue
            wanted = str(record[f.name]).lower()
            for other in self.records[spec.name].values():
                same = other.get(f.name) is not None and str(other[f.name]).lower() == wanted
                if same and other["Id"] != record.get("Id"):
                    raise SalesforceError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: "
                        f"{other['Id']}",
                        [f.name],
                    )

    def _rules_on_create(self, sobject: str, record: Record) -> None:
        if sobject == "Order":
            status = record["Status"]
            if status not in ORDER_STATUSES:
                raise _bad_picklist("Status", status)
            if ORDER_STATUSES[status] != "Draft":
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can't select Activated until you have an order product.",
                    ["Status"],
                )
        elif sobject == "OrderItem":
            self._order_item_rules(record)
        elif sobject == "Case":
            record["Status"] = record["Status"] or "New"
            self._case_rules(record)
        elif sobject == "PricebookEntry":
            book = self.records["Pricebook2"][record["Pricebook2Id"]]
            if not book["IsStandard"] and not any(
                e["Product2Id"] == record["Product2Id"]
                and self.records["Pricebook2"][e["Pricebook2Id"]]["IsStandard"]
                for e in self.records["PricebookEntry"].values()
            ):
                raise SalesforceError(
                    "STANDARD_PRICE_NOT_DEFINED",
                    "No standard price defined for this product",
                )
        self._contact_rules(sobject, record)
        self._derive(sobject, record)

    def _rules_on_update(self, sobject: str, before: Record, after: Record) -> None:
        if sobject == "Order":
            status = after["Status"]
            if status not in ORDER_STATUSES:
                raise _bad_picklist("Status", status)
            items = [i for i in self.records["OrderItem"].values() if i["OrderId"] == before["Id"]]
            if ORDER_STATUSES[status] == "Activated" and not items:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can't select Activated until you have an order product.",
                    ["Status"],
                )
            if after["Pricebook2Id"] != before["Pricebook2Id"] and items:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can't change the price book of an order that has order products.",
                    ["Pricebook2Id"],
                )
        elif sobject == "OrderItem":
            self._order_item_rules(after)
        elif sobject == "Case":
            self._case_rules(after)
        self._contact_rules(sobject, after)

    def _order_item_rules(self, item: Record) -> None:
        order = self.records["Order"][item["OrderId"]]
        entry = self.records["PricebookEntry"][item["PricebookEntryId"]]
        if order["StatusCode"] == "Activated":
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't add or change order products on an activated order.",
                ["OrderId"],
            )
        if order["Pricebook2Id"] is None or entry["Pricebook2Id"] != order["Pricebook2Id"]:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is in a different "
                "pricebook than the one assigned to the Order, or Order has no pricebook "
                "assigned)",
                ["PricebookEntryId"],
            )
        if not entry["IsActive"]:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
                ["PricebookEntryId"],
            )
        if item["Product2Id"] not in (None, entry["Product2Id"]):
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: Product2Id (does not match the pricebook entry)",
                ["Product2Id"],
            )
        if item["Quantity"] <= 0:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION", "Quantity must be greater than zero", ["Quantity"]
            )

    @staticmethod
    def _case_rules(case: Record) -> None:
        if case["Status"] not in CASE_STATUSES:
            raise _bad_picklist("Status", case["Status"])
        # The org's validation rule Integration_Case_Needs_Subject.
        if case["Origin"] == "Integration" and not case["Subject"]:
            raise SalesforceError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "Cases opened by the integration need a subject.",
                ["Subject"],
            )

    @staticmethod
    def _contact_rules(sobject: str, record: Record) -> None:
        email = record.get("Email")
        if sobject == "Contact" and email is not None and not _EMAIL_RE.match(email):
            raise SalesforceError(
                "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ["Email"]
            )

    def _derive(self, sobject: str, record: Record) -> None:
        if sobject == "Contact":
            record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)
        elif sobject == "Order":
            code = ORDER_STATUSES[record["Status"]]
            if code == "Activated" and record["StatusCode"] != "Activated":
                record["ActivatedDate"] = self.clock.iso()
            record["StatusCode"] = code
            if record["OrderNumber"] is None:
                record["OrderNumber"] = f"{100 + self._numbers['Order']:08d}"
            if record["TotalAmount"] is None:
                record["TotalAmount"] = Decimal("0")
        elif sobject == "OrderItem":
            entry = self.records["PricebookEntry"][record["PricebookEntryId"]]
            record["Product2Id"] = entry["Product2Id"]
            record["TotalPrice"] = record["Quantity"] * record["UnitPrice"]
        elif sobject == "Case" and record["CaseNumber"] is None:
            record["CaseNumber"] = f"{1000 + self._numbers['Case']:08d}"
        elif sobject in {"Product2", "Pricebook2", "PricebookEntry"} and record["IsActive"] is None:
            record["IsActive"] = True

    def _after_write(self, tx: Transaction, sobject: str, record: Record) -> None:
        if sobject == "OrderItem":
            self._recalculate(tx, record["OrderId"])

    def _recalculate(self, tx: Transaction, order_id: str) -> None:
        order = self.records["Order"][order_id]
        total = sum(
            (
                i["TotalPrice"]
                for i in self.records["OrderItem"].values()
                if i["OrderId"] == order_id
            ),
            Decimal("0"),
        )
        if total != order["TotalAmount"]:
            order["TotalAmount"] = total
            order["LastModifiedDate"] = order["SystemModstamp"] = self.clock.iso()
            tx.changes.append(
                Change(
                    "Order",
                    order_id,
                    "UPDATE",
                    {"TotalAmount": total, "LastModifiedDate": order["LastModifiedDate"]},
                    ["TotalAmount", "LastModifiedDate"],
                )
            )

    @staticmethod
    def _cdc_fields(record: Record) -> Record:
        return {k: v for k, v in record.items() if v is not None and k not in _CDC_SKIP}

    # -- seeding and gaps --------------------------------------------------------------------

    def _seed_record(self, raw: Record) -> None:
        sobject = str(raw.pop("type"))
        spec = self.spec(sobject)
        self._numbers[sobject] += 1
        record_id = str(raw.pop("Id", None) or _ids.make_id(sobject, self._numbers[sobject]))
        now = self.clock.iso()
        record: Record = dict.fromkeys(spec.fields) | {
            "Id": record_id,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": INTEGRATION_USER,
            "LastModifiedById": INTEGRATION_USER,
            "IsDeleted": False,
        }
        for name, value in raw.items():
            record[name] = (
                value if spec.fields[name].readonly else self._value(spec.fields[name], value)
            )
        self._derive(sobject, record)
        self.records[sobject][record_id] = record

    def write_unnoticed(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Change a record without a regular change event (what a gap event stands for)."""
        record = self.get(sobject, record_id)
        record.update(self._coerce(self.spec(sobject), fields, creating=False))
        record["LastModifiedDate"] = record["SystemModstamp"] = self.clock.iso()
        self._derive(sobject, record)


def _parse_error(spec: FieldSpec, value: Any, kind: str) -> SalesforceError:
    return SalesforceError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from value {value!r} for field {spec.name}",
        [spec.name],
    )


def _bad_picklist(field_name: str, value: Any) -> SalesforceError:
    return SalesforceError(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{field_name}: bad value for restricted picklist field: {value}",
        [field_name],
    )
