"""Published schema versions (docs/schemas/) never change incompatibly.

A field removed, a type narrowed or a field newly required needs a new version (order.v2). A
compatible change (a new optional field) only needs the published copy refreshed with
``crossdock schema export docs/schemas``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossdock._cli.schema import app
from crossdock.canonical import schemas
from crossdock.canonical.registry import all_versions

PUBLISHED = Path(__file__).resolve().parents[3] / "docs" / "schemas"
REFRESH = "crossdock schema export docs/schemas"


def current_export() -> dict[str, dict[str, Any]]:
    return {version: schemas.entity_schema(version, m) for version, m in all_versions().items()}


def test_current_model_keeps_every_published_version_compatible() -> None:
    breaks = schemas.compare_exports(schemas.load_export(PUBLISHED), current_export())
    assert not breaks, "incompatible changes need a new schema version:\n" + "\n".join(
        map(str, breaks)
    )


def test_published_copy_is_fresh() -> None:
    rendered = schemas.render_export()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in PUBLISHED.glob("*.json")}
    assert on_disk == rendered, f"docs/schemas is stale: run `{REFRESH}`"


def test_cli_export_writes_one_file_per_version_and_an_index(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted([*(f"{v}.json" for v in all_versions()), "index.json"])
    order = json.loads((tmp_path / "out" / "order.v1.json").read_text(encoding="utf-8"))
    assert order["$id"] == "urn:crossdock:schema:order.v1"
    assert schemas.load_export(tmp_path / "out") == current_export()


def test_cli_check_passes_on_the_published_copy_and_fails_on_a_break(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["check", str(PUBLISHED)]).exit_code == 0
    schemas.export(tmp_path)
    doctored = json.loads((tmp_path / "price.v1.json").read_text(encoding="utf-8"))
    doctored["properties"]["retired_field"] = {"type": "string"}
    (tmp_path / "price.v1.json").write_text(json.dumps(doctored), encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert "retired_field" in result.output


# --- the checker catches each kind of break ----------------------------------------------------


def order_schema() -> dict[str, Any]:
    return copy.deepcopy(current_export()["order.v1"])


def test_identical_schemas_have_no_break() -> None:
    assert schemas.compare_schemas("order.v1", order_schema(), order_schema()) == []


def test_a_new_optional_field_is_compatible() -> None:
    new = order_schema()
    new["properties"]["gift_message"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    new["$defs"]["OrderLine"]["properties"]["hs_code"] = {"type": "string"}
    assert schemas.compare_schemas("order.v1", order_schema(), new) == []


def test_a_widened_type_is_compatible() -> None:
    new = order_schema()
    new["properties"]["note"] = {"type": ["string", "null", "integer"]}
    assert schemas.compare_schemas("order.v1", order_schema(), new) == []


def test_a_removed_field_is_caught() -> None:
    new = order_schema()
    del new["$defs"]["OrderLine"]["properties"]["variant_title"]
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert [(b.kind, b.path) for b in breaks] == [("removed", "lines[].variant_title")]


def test_a_narrowed_type_is_caught() -> None:
    new = order_schema()
    new["properties"]["note"] = {"type": "string"}  # was string or null
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert [(b.kind, b.path) for b in breaks] == [("narrowed", "note")]


def test_a_narrowed_enum_is_caught() -> None:
    new = order_schema()
    new["properties"]["status"]["enum"] = ["draft", "open", "closed"]
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert [(b.kind, b.path) for b in breaks] == [("removed", "status")]


def test_a_tighter_constraint_is_caught() -> None:
    new = order_schema()
    new["$defs"]["OrderLine"]["properties"]["quantity"]["maximum"] = 999
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert [(b.kind, b.path) for b in breaks] == [("narrowed", "lines[].quantity")]


def test_a_newly_required_field_is_caught() -> None:
    new = order_schema()
    new["required"] = [*new["required"], "email"]
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert [(b.kind, b.path) for b in breaks] == [("required", "email")]


def test_a_newly_required_nested_field_is_caught() -> None:
    new = order_schema()
    new["$defs"]["Address"]["required"] = ["country_code"]
    breaks = schemas.compare_schemas("order.v1", order_schema(), new)
    assert {(b.kind, b.path) for b in breaks} == {
        ("required", "billing_address.country_code"),
        ("required", "shipping_address.country_code"),
    }


def test_a_removed_version_is_caught() -> None:
    published = current_export()
    current = dict(published)
    del current["invoice.v1"]
    breaks = schemas.compare_exports(published, current)
    assert [(b.version, b.kind) for b in breaks] == [("invoice.v1", "removed")]


@pytest.mark.parametrize("version", sorted(all_versions()))
def test_every_version_is_compatible_with_itself(version: str) -> None:
    schema = current_export()[version]
    assert schemas.compare_schemas(version, schema, copy.deepcopy(schema)) == []


def test_schema_group_is_registered_on_the_crossdock_command(tmp_path: Path) -> None:
    from crossdock.cli import app as crossdock

    result = CliRunner().invoke(crossdock, ["schema", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index.json").is_file()
