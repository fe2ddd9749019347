"""JSON Schema export of every entity version, and the compatibility check between two exports.

A published schema version (one committed in ``docs/schemas/``) may only grow compatibly: new
optional fields, wider types. Three kinds of change break it and need a new version
(``order.v2``) instead:

- ``removed``: a field (or an enum value, or a whole version) disappeared;
- ``narrowed``: a type accepts less than before (a type dropped, a tighter pattern, length or range,
  extra fields newly forbidden, an enum newly imposed);
- ``required``: a field that was optional is now required.

The refresh after a compatible change is ``crossdock schema export docs/schemas``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from crossdock.canonical.envelope import schema_urn
from crossdock.canonical.registry import all_versions

__all__ = [
    "INDEX_FILE",
    "JSON_SCHEMA_DIALECT",
    "Break",
    "compare_exports",
    "compare_schemas",
    "entity_schema",
    "export",
    "load_export",
    "render_export",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX_FILE = "index.json"

BreakKind = Literal["removed", "narrowed", "required"]
JsonObj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Break:
    """One incompatible change.

    Attributes:
        version: the schema version, e.g. ``"order.v1"``.
        kind: ``"removed"``, ``"narrowed"`` or ``"required"``.
        path: where in the schema, e.g. ``"lines[].quantity"``.
        detail: what changed, in words.
    """

    version: str
    kind: BreakKind
    path: str
    detail: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.version}{where}: {self.kind}: {self.detail}"


# --- export ------------------------------------------------------------------------------------


def entity_schema(version: str, model: type[BaseModel]) -> dict[str, Any]:
    """Return the JSON Schema of one entity version, with ``$schema`` and ``$id`` set."""
    schema = model.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_urn(version), **schema}


def render_export() -> dict[str, str]:
    """Return the export as ``{file name: text}``: one file per version plus ``index.json``."""
    files: dict[str, str] = {}
    index: dict[str, dict[str, Any]] = {}
    for version, model in all_versions().items():
        entity, number = version.rsplit(".v", 1)
        name = f"{version}.json"
        files[name] = _dump(entity_schema(version, model))
        index[version] = {"entity": entity, "version": int(number), "file": name}
    files[INDEX_FILE] = _dump({"schemas": index})
    return files


def export(directory: Path) -> list[Path]:
    """Write the export into `directory` (created if missing); return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_export().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def load_export(directory: Path) -> dict[str, dict[str, Any]]:
    """Read an export back as ``{version: schema}`` using its index.

    Raises:
        FileNotFoundError: the directory has no ``index.json``.
    """
    index = json.loads((directory / INDEX_FILE).read_text(encoding="utf-8"))
    return {
        version: json.loads((directory / entry["file"]).read_text(encoding="utf-8"))
        for version, entry in index["schemas"].items()
    }


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# --- compatibility -----------------------------------------------------------------------------


def compare_exports(
    published: Mapping[str, JsonObj], current: Mapping[str, JsonObj]
) -> list[Break]:
    """Return every incompatible change from the published versions to the current ones.

    New versions in `current` are fine; a published version missing from `current` is a break.
    """
    breaks: list[Break] = []
    for version, old in published.items():
        new = current.get(version)
        if new is None:
            breaks.append(Break(version, "removed", "", "the published version no longer exists"))
            continue
        breaks.extend(compare_schemas(version, old, new))
    return breaks


def compare_schemas(version: str, old: JsonObj, new: JsonObj) -> list[Break]:
    """Return the incompatible changes between two JSON Schemas of the same version."""
    checker = _Checker(version, old.get("$defs", {}), new.get("$defs", {}))
    return list(checker.compare(old, new, "", frozenset()))


_NARROWING_MINIMA = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_NARROWING_MAXIMA = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


class _Checker:
    def __init__(self, version: str, old_defs: JsonObj, new_defs: JsonObj) -> None:
        self.version = version
        self.old_defs = old_defs
        self.new_defs = new_defs

    def _break(self, kind: BreakKind, path: str, detail: str) -> Break:
        return Break(self.version, kind, path, detail)

    @staticmethod
    def _resolve(schema: JsonObj, defs: JsonObj) -> tuple[JsonObj, str | None]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            return defs.get(name, {}), name
        return schema, None

    def compare(
        self, old: JsonObj, new: JsonObj, path: str, seen: frozenset[tuple[str, str]]
    ) -> Iterator[Break]:
        old, old_ref = self._resolve(old, self.old_defs)
        new, new_ref = self._resolve(new, self.new_defs)
        if old_ref and new_ref:
            if (old_ref, new_ref) in seen:  # recursive definitions
                return
            seen = seen | {(old_ref, new_ref)}
        old_branches = _branches(old)
        new_branches = _branches(new)
        if len(old_branches) > 1 or len(new_branches) > 1:
            yield from self._compare_unions(old_branches, new_branches, path, seen)
            return
        yield from self._compare_types(old, new, path)
        yield from self._compare_values(old, new, path)
        yield from self._compare_constraints(old, new, path)
        yield from self._compare_objects(old, new, path, seen)
        if "items" in old and isinstance(new.get("items"), Mapping):
            yield from self.compare(old["items"], new["items"], f"{path}[]", seen)

    def _compare_unions(
        self,
        old_branches: list[JsonObj],
        new_branches: list[JsonObj],
        path: str,
        seen: frozenset[tuple[str, str]],
    ) -> Iterator[Break]:
        # Every old branch must still be accepted by some new branch.
        for branch in old_branches:
            candidates = [list(self.compare(branch, nb, path, seen)) for nb in new_branches]
            if not any(not found for found in candidates):
                best = min(candidates, key=len)
                yield from best or [self._break("narrowed", path, "a union lost a branch")]

    def _compare_types(self, old: JsonObj, new: JsonObj, path: str) -> Iterator[Break]:
        old_types = _types(old, self.old_defs)
        new_types = _types(new, self.new_defs)
        lost = {t for t in old_types - new_types if not (t == "integer" and "number" in new_types)}
        if lost:
            yield self._break("narrowed", path, f"type no longer accepts {', '.join(sorted(lost))}")

    def _compare_values(self, old: JsonObj, new: JsonObj, path: str) -> Iterator[Break]:
        old_values = _allowed_values(old)
        new_values = _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            yield self._break("narrowed", path, "values are now limited to an enum")
            return
        lost = [v for v in old_values if v not in new_values]
        if lost:
            yield self._break("removed", path, f"allowed values removed: {lost}")

    def _compare_constraints(self, old: JsonObj, new: JsonObj, path: str) -> Iterator[Break]:
        for key in _NARROWING_MINIMA:
            if key in new and (key not in old or new[key] > old[key]):
                yield self._break("narrowed", path, f"{key} raised to {new[key]}")
        for key in _NARROWING_MAXIMA:
            if key in new and (key not in old or new[key] < old[key]):
                yield self._break("narrowed", path, f"{key} lowered to {new[key]}")
        for key in ("pattern", "format"):
            if key in new and new.get(key) != old.get(key):
                yield self._break("narrowed", path, f"{key} changed to {new[key]!r}")

    def _compare_objects(
        self, old: JsonObj, new: JsonObj, path: str, seen: frozenset[tuple[str, str]]
    ) -> Iterator[Break]:
        old_props: JsonObj = old.get("properties", {})
        new_props: JsonObj = new.get("properties", {})
        if old.get("additionalProperties", True) is not False and (
            new.get("additionalProperties", True) is False
        ):
            yield self._break("narrowed", path, "additional properties are now forbidden")
        for name, old_field in old_props.items():
            field_path = f"{path}.{name}" if path else name
            if name not in new_props:
                yield self._break("removed", field_path, f"field {name!r} was removed")
                continue
            yield from self.compare(old_field, new_props[name], field_path, seen)
        old_required = set(old.get("required", ()))
        for name in new.get("required", ()):
            if name not in old_required:
                field_path = f"{path}.{name}" if path else name
                yield self._break("required", field_path, f"field {name!r} is now required")


def _branches(schema: JsonObj) -> list[JsonObj]:
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return list(schema[key])
    return [schema]


def _types(schema: JsonObj, defs: JsonObj) -> frozenset[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = _allowed_values(schema)
    if values is not None:
        return frozenset(_json_type(v) for v in values)
    if "properties" in schema:
        return frozenset({"object"})
    return _ALL_TYPES


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allowed_values(schema: JsonObj) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None
