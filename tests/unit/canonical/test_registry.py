"""The entity registry: names, versions, attributes."""

from __future__ import annotations

import pytest

from crossdock.canonical import registry


def test_every_entity_has_a_latest_model_with_its_schema_version() -> None:
    for entity in registry.ENTITY_NAMES:
        model = registry.latest_model(entity)
        assert model.model_fields["schema_version"].default == f"{entity}.v1"


def test_all_versions_are_keyed_by_schema_version() -> None:
    versions = registry.all_versions()
    assert sorted(versions) == sorted(f"{e}.v1" for e in registry.ENTITY_NAMES)
    versions.clear()  # a copy: the registry is unaffected
    assert registry.all_versions()


def test_attributes_leave_out_bookkeeping_fields() -> None:
    attributes = registry.entity_attributes("order")
    assert {"lines", "totals", "currency", "shipping_address"} <= attributes
    assert not attributes & {"id", "schema_version"}


def test_required_attributes_are_those_without_a_default() -> None:
    assert registry.required_attributes("inventory_level") == {
        "sku",
        "location",
        "available",
        "as_of",
        "source",
    }
    for entity in registry.ENTITY_NAMES:
        assert registry.required_attributes(entity) <= registry.entity_attributes(entity)


@pytest.mark.parametrize(
    "call", [registry.latest_model, registry.entity_attributes, registry.required_attributes]
)
def test_unknown_entity_raises_key_error_naming_it(call: object) -> None:
    with pytest.raises(KeyError, match="unknown entity 'basket'"):
        call("basket")  # type: ignore[operator]
