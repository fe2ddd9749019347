"""The REST resources under ``/services/data/vXX.X/``: sObjects, upsert, collections, query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from crossdock.sandbox.salesforce import _ids, _soql
from crossdock.sandbox.salesforce._errors import SalesforceError
from crossdock.sandbox.salesforce._json import json_response

if TYPE_CHECKING:
    from crossdock.sandbox.salesforce._simulator import SalesforceSimulator

MAX_COLLECTION = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}


class RestCall:
    """One REST call: its route parts, query, body and the org's change origin.

    Args:
        sim: The simulator.
        version: ``62.0``.
        method: HTTP method.
        parts: Path segments after the version (trailing slash ignored).
        query: Query parameters.
        body: The decoded JSON body (None when there is none).
        origin: ``changeOrigin`` for the change events of this call.
    """

    def __init__(
        self,
        sim: SalesforceSimulator,
        version: str,
        method: str,
        parts: list[str],
        query: Mapping[str, str],
        body: Any,
        origin: str,
    ) -> None:
        self.sim = sim
        self.org = sim.org
        self.version = version
        self.method = method
        self.parts = parts
        self.query = query
        self.body = body
        self.origin = origin

    def dispatch(self) -> Response:
        """Route the call; a `SalesforceError` becomes its JSON-array response."""
        try:
            return self._route()
        except SalesforceError as error:
            return error.response()

    def _route(self) -> Response:
        p, m = self.parts, self.method
        if not p and m == "GET":
            return json_response(self._resources())
        if p == ["limits"] and m == "GET":
            return json_response(self.sim.limits_body())
        if p == ["query"] and m == "GET":
            return self._query()
        if len(p) == 2 and p[0] == "query" and m == "GET":
            return self._query_more(p[1])
        if len(p) == 2 and p[0] == "sobjects" and m == "POST":
            return self._create(p[1])
        if len(p) == 3 and p[0] == "sobjects" and p[2] == "describe" and m == "GET":
            return json_response(self._describe(p[1]))
        if len(p) == 3 and p[0] == "sobjects":
            return self._by_id(p[1], p[2])
        if len(p) == 4 and p[0] == "sobjects":
            return self._by_external_id(p[1], p[2], p[3])
        if len(p) == 4 and p[:2] == ["composite", "sobjects"] and m == "PATCH":
            return self._collection_upsert(p[2], p[3])
        if p and p[0] in {"sobjects", "composite", "query", "limits"}:
            raise SalesforceError(
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{m}' not allowed. Allowed are GET,HEAD",
                status=405,
            )
        raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)

    def _resources(self) -> dict[str, str]:
        base = f"/services/data/v{self.version}"
        return {name: f"{base}/{name}" for name in ("sobjects", "query", "limits", "composite")}

    def _describe(self, sobject: str) -> dict[str, Any]:
        spec = self.org.spec(sobject)
        types = {
            "text": "string",
            "bool": "boolean",
            "number": "double",
            "date": "date",
            "datetime": "datetime",
            "id": "reference",
        }
        fields = [
            {
                "name": f.name,
                "type": "id" if f.name == "Id" else types[f.kind],
                "referenceTo": [f.ref] if f.ref else [],
                "relationshipName": f.relationship,
                "nillable": not f.required and f.kind != "bool",
                "externalId": f.external_id,
                "unique": f.unique,
                "createable": not f.readonly,
                "updateable": not f.readonly,
                "custom": f.name.endswith("__c"),
            }
            for f in spec.fields.values()
        ]
        base = f"/services/data/v{self.version}/sobjects/{sobject}"
        return {
            "name": sobject,
            "label": sobject,
            "custom": False,
            "createable": True,
            "updateable": True,
            "queryable": True,
            "keyPrefix": _ids.KEY_PREFIXES.get(sobject),
            "fields": fields,
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }

    def _body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise SalesforceError(
                "JSON_PARSER_ERROR", "The request body must be a JSON object of field values."
            )
        return self.body

    # -- sObjects ----------------------------------------------------------------------------

    def _create(self, sobject: str) -> Response:
        body = self._body()
        self.org.spec(sobject)
        keys = self._effect_keys(sobject, body)
        for kind, key in keys:
            self.sim.effects.attempt(kind, key)
        try:
            with self.org.transaction(self.origin) as tx:
                record_id = self.org.create(tx, sobject, body)
        except SalesforceError as error:
            if error.code == "DUPLICATE_VALUE":
                for kind, key in keys:
                    self.sim.effects.refused(kind, key)
            raise
        for kind, key in keys:
            self.sim.effects.created(kind, key, {"id": record_id})
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    def _by_id(self, sobject: str, record_id: str) -> Response:
        if self.method == "GET":
            record = self.org.get(sobject, record_id)
            return json_response(self._view(sobject, record))
        if self.method == "PATCH":
            body = self._body()
            with self.org.transaction(self.origin) as tx:
                self.org.update(tx, sobject, record_id, body)
            return Response(status_code=204)
        if self.method == "DELETE":
            with self.org.transaction(self.origin) as tx:
                self.org.delete(tx, sobject, record_id)
            return Response(status_code=204)
        raise SalesforceError(
            "METHOD_NOT_ALLOWED", f"HTTP Method '{self.method}' not allowed.", status=405
        )

    def _view(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        view = self.org.view(sobject, record, self.version)
        fields = self.query.get("fields")
        if fields:
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            spec = self.org.spec(sobject)
            for name in wanted:
                if name not in spec.fields:
                    raise SalesforceError(
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {sobject}",
                        [name],
                    )
            view = {"attributes": view["attributes"], **{n: view[n] for n in wanted}}
        return view

    def _by_external_id(self, sobject: str, field: str, value: str) -> Response:
        if self.method == "GET":
            found = self.org.find(sobject, field, value)
            if not found:
                raise SalesforceError(
                    "NOT_FOUND", "The requested resource does not exist", status=404
                )
            if len(found) > 1:
                return self._multiple(sobject, [r["Id"] for r in found])
            return json_response(self._view(sobject, found[0]))
        if self.method == "PATCH":
            return self._upsert(sobject, field, value)
        if self.method == "DELETE":
            found = self.org.find(sobject, field, value)
            if len(found) != 1:
                raise SalesforceError(
                    "NOT_FOUND", "The requested resource does not exist", status=404
                )
            with self.org.transaction(self.origin) as tx:
                self.org.delete(tx, sobject, found[0]["Id"])
            return Response(status_code=204)
        raise SalesforceError(
            "METHOD_NOT_ALLOWED", f"HTTP Method '{self.method}' not allowed.", status=405
        )

    def _upsert(self, sobject: str, field: str, value: str) -> Response:
        body = self._body()
        update_only = self.query.get("updateOnly", "").lower() == "true"
        kind, key = f"{sobject}.{field}", value
        self.sim.effects.attempt(kind, key)
        with self.org.transaction(self.origin) as tx:
            result = self.org.upsert(tx, sobject, field, value, body, update_only=update_only)
        if isinstance(result, list):
            return self._multiple(sobject, result)
        record_id, created = result
        if created:
            self.sim.effects.created(kind, key, {"id": record_id})
            body_out = {"id": record_id, "success": True, "errors": [], "created": True}
            return json_response(body_out, 201)
        self.sim.effects.absorbed(kind, key)
        if self.sim.upsert_update_status == 204:
            return Response(status_code=204)
        return json_response({"id": record_id, "success": True, "errors": [], "created": False})

    def _multiple(self, sobject: str, ids: list[str]) -> Response:
        urls = [f"/services/data/v{self.version}/sobjects/{sobject}/{i}" for i in ids]
        return json_response(urls, 300)

    def _effect_keys(self, sobject: str, body: Mapping[str, Any]) -> list[tuple[str, str]]:
        spec = self.org.spec(sobject)
        return [
            (f"{sobject}.{name}", str(body[name]))
            for name in spec.external_ids()
            if name != "Id" and body.get(name) is not None
        ]

    # -- collections -------------------------------------------------------------------------

    def _collection_upsert(self, sobject: str, field: str) -> Response:
        body = self._body()
        spec = self.org.spec(sobject)
        if field not in spec.external_ids():
            raise SalesforceError(
                "INVALID_FIELD",
                f"Field name provided, {field} is not an External ID or indexed "
                "field for " + sobject,
                [field],
            )
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise SalesforceError("JSON_PARSER_ERROR", "records must be a non-empty array")
        if len(records) > MAX_COLLECTION:
            raise SalesforceError(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = body.get("allOrNone") is True
        snapshot = self.org.snapshot() if all_or_none else None
        tx = self.org.begin(self.origin)
        seen: dict[str, int] = {}
        results: list[dict[str, Any]] = []
        effects: list[tuple[str, str, bool]] = []
        for index, record in enumerate(records):
            try:
                record_id, created = self._collection_record(
                    tx, sobject, field, record, seen, index
                )
            except SalesforceError as error:
                results.append({"success": False, "errors": [error.collection_error()]})
                continue
            results.append({"id": record_id, "success": True, "errors": [], "created": created})
            effects.append((f"{sobject}.{field}", str(record[field]), created))
        failed = any(not r["success"] for r in results)
        if failed and snapshot is not None:
            self.org.restore(snapshot)
            results = [
                r
                if not r["success"]
                else {"id": r["id"], "success": False, "errors": [ROLLED_BACK]}
                for r in results
            ]
            return json_response(results)
        self.org.commit(tx)
        for kind, key, created in effects:
            self.sim.effects.attempt(kind, key)
            if created:
                self.sim.effects.created(kind, key, None)
            else:
                self.sim.effects.absorbed(kind, key)
        return json_response(results)

    def _collection_record(
        self,
        tx: Any,
        sobject: str,
        field: str,
        record: Any,
        seen: dict[str, int],
        index: int,
    ) -> tuple[str, bool]:
        if not isinstance(record, dict):
            raise SalesforceError("JSON_PARSER_ERROR", "each record must be a JSON object")
        declared = (record.get("attributes") or {}).get("type")
        if declared != sobject:
            raise SalesforceError(
                "INVALID_TYPE", f"attributes.type must be {sobject} for this upsert"
            )
        value = record.get(field)
        if value is None:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{field}]", [field]
            )
        key = str(value).lower()
        if key in seen:
            raise SalesforceError(
                "DUPLICATE_EXTERNAL_ID",
                f"Duplicate external id specified: {value}",
                [field],
            )
        seen[key] = index
        fields = {k: v for k, v in record.items() if k not in {"attributes", field}}
        result = self.org.upsert(tx, sobject, field, str(value), fields)
        if isinstance(result, list):
            raise SalesforceError(
                "DUPLICATE_EXTERNAL_ID",
                f"{field}: more than one record found for external id field: {result}",
                [field],
            )
        return result

    # -- query -------------------------------------------------------------------------------

    def _query(self) -> Response:
        text = self.query.get("q")
        if not text:
            raise SalesforceError("MALFORMED_QUERY", "A query string must be provided.")
        parsed = _soql.parse(text)
        records = list(self.org.records[parsed.sobject].values())

        def resolve(sobject: str, record_id: str) -> dict[str, Any] | None:
            return self.org.records.get(sobject, {}).get(record_id)

        result = _soql.run(parsed, records, resolve, self.version)
        return json_response(self._page(result["records"], result["totalSize"]))

    def _page(self, rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
        size = self.sim.query_batch_size
        body: dict[str, Any] = {
            "totalSize": total,
            "done": len(rows) <= size,
            "records": rows[:size],
        }
        if len(rows) > size:
            self.sim.query_cursors += 1
            locator = f"01g5g0000{self.sim.query_cursors:06d}AAA"
            self.sim.cursors[locator] = (total, rows[size:])
            body["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{size}"
        return body

    def _query_more(self, locator: str) -> Response:
        key = locator.partition("-")[0]
        found = self.sim.cursors.pop(key, None)
        if found is None:
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
        total, rows = found
        return json_response(self._page(rows, total))
