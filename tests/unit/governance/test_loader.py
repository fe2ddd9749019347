"""Loading crossdock.toml: the example is valid; each kind of invalid file gives one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from crossdock.canonical import registry
from crossdock.governance import (
    ConflictRule,
    CostBudget,
    FlowName,
    Governance,
    GovernanceError,
    LeakyBucketBudget,
    SyncPattern,
    SystemKind,
    load_governance,
)

Write = Callable[..., Path]


def errors_of(path: Path) -> list[str]:
    with pytest.raises(GovernanceError) as caught:
        load_governance(path)
    errors = caught.value.errors
    for line in errors:
        assert line.startswith(f"{path}: ")
        assert "\n" not in line
    return errors


def only_error(path: Path) -> str:
    errors = errors_of(path)
    assert len(errors) == 1, errors
    return errors[0]


# -- the example ------------------------------------------------------------------------------


def test_the_reference_retailer_example_is_valid(example_path: Path) -> None:
    governance = load_governance(example_path)

    kinds = {name: system.kind for name, system in governance.systems.items()}
    assert set(kinds.values()) == set(SystemKind)
    assert not governance.systems["businesscentral"].active
    assert set(governance.ownership) == set(registry.ENTITY_NAMES)
    assert set(governance.enabled_flows()) == set(FlowName)
    assert governance.flows.order_fulfilment is not None
    assert governance.flows.order_fulfilment.erp == "netsuite"


def test_the_example_owns_every_required_attribute_as_the_product_brief_says(
    example_path: Path,
) -> None:
    policy = load_governance(example_path).ownership_policy()

    for entity in registry.ENTITY_NAMES:
        for attribute in registry.required_attributes(entity):
            assert policy.entities[entity][attribute].owner is not None, (entity, attribute)
    owner = {e: {a: r.owner for a, r in attrs.items()} for e, attrs in policy.entities.items()}
    assert owner["customer"]["account"] == "salesforce"
    assert owner["customer"]["email"] == "shopify"
    assert set(owner["product"].values()) <= {"netsuite", "shopify"}
    assert set(owner["price"].values()) == {"netsuite"}
    assert owner["inventory_level"]["on_hand"] == "netsuite"
    assert owner["order"]["lines"] == "shopify"
    assert owner["order"]["financial_status"] == "netsuite"
    assert owner["invoice"]["total"] == "netsuite"
    assert policy.entities["inventory_level"]["on_hand"].rule is ConflictRule.LATEST_WINS


def test_the_example_declares_domains_with_latency_targets_and_rate_budgets(
    example_path: Path,
) -> None:
    governance = load_governance(example_path)

    stock = governance.domains["inventory_availability"]
    assert stock.pattern is SyncPattern.EVENT
    assert stock.latency_target == timedelta(seconds=60)
    assert governance.domains["product_descriptions"].pattern is SyncPattern.BATCH
    assert governance.domains["product_descriptions"].latency_target == timedelta(hours=24)
    assert governance.domains["customer_account"].pattern is SyncPattern.API_PLUS_RECONCILE
    shopify = governance.systems["shopify"].rate_budgets
    assert shopify["rest"] == LeakyBucketBudget(kind="leaky_bucket", capacity=40, leak_per_second=2)
    assert isinstance(shopify["graphql"], CostBudget)


# -- one line per kind of invalid file --------------------------------------------------------


def test_an_owner_that_is_not_a_declared_system_is_an_unknown_system(write: Write) -> None:
    path = write({"ownership.order": 'default_owner = "erp"\nowners.sap = ["status"]'})

    assert only_error(path) == (
        f"{path}: ownership.order.owners.sap: unknown system 'sap' "
        "(declared: alt_erp, erp, shop, wms)"
    )


def test_a_flow_naming_an_undeclared_system_is_an_unknown_system(write: Write) -> None:
    path = write(
        {
            "flows.order_fulfilment": 'erp = "sap"\nchannels = ["shop"]\n'
            'routing = [{ warehouse = "wms" }]'
        }
    )

    assert only_error(path).startswith(f"{path}: flows.order_fulfilment.erp: unknown system 'sap'")


def test_an_attribute_owned_twice_is_an_error(write: Write) -> None:
    path = write({"ownership.order": 'owners.erp = ["status"]\nowners.shop = ["status"]\n'
                  'default_owner = "erp"'})  # fmt: skip

    assert only_error(path) == (
        f"{path}: ownership.order.owners.shop: attribute 'status' is owned also by erp"
    )


def test_a_required_attribute_with_no_owner_is_an_error_per_attribute(write: Write) -> None:
    path = write({"ownership.order": 'owners.erp = ["status"]'})

    errors = errors_of(path)

    missing = sorted(registry.required_attributes("order") - {"status"})
    assert missing
    assert errors == [
        f"{path}: ownership.order: required attribute {name!r} has no owner "
        "(list it under owners, or set default_owner)"
        for name in missing
    ]


def test_an_entity_with_no_ownership_table_is_an_error(write: Write) -> None:
    path = write({"ownership.invoice": None})

    assert only_error(path).startswith(f"{path}: ownership.invoice: missing: declare who owns")


def test_an_unknown_entity_is_an_error(write: Write) -> None:
    path = write({"ownership.ordr": 'default_owner = "erp"'})

    assert only_error(path).startswith(f"{path}: ownership.ordr: unknown entity 'ordr'")


def test_an_unknown_entity_in_a_domain_is_an_error(write: Write) -> None:
    path = write(
        {"domains.stock": 'pattern = "event"\nlatency_target = "1m"\nentities = ["stock"]'}
    )

    assert only_error(path).startswith(f"{path}: domains.stock.entities[0]: unknown entity 'stock'")


def test_an_unknown_attribute_is_an_error_with_a_suggestion(write: Write) -> None:
    path = write({"ownership.order": 'default_owner = "erp"\nowners.shop = ["stauts"]'})

    assert only_error(path) == (
        f"{path}: ownership.order.owners.shop: unknown attribute 'stauts' of order "
        "(did you mean 'status'?)"
    )


def test_an_unknown_attribute_in_rules_is_an_error(write: Write) -> None:
    path = write({"ownership.order": 'default_owner = "erp"\nrules.zzz = "latest_wins"'})

    assert only_error(path).startswith(
        f"{path}: ownership.order.rules.zzz: unknown attribute 'zzz' of order"
    )


def test_a_secret_written_inline_is_an_error_that_never_shows_the_secret(write: Write) -> None:
    secret = "shpat_0123456789abcdef"
    shop = 'kind = "shopify"\nbase_url = "https://shop.example.com"\n'
    path = write({"systems.shop": shop + f'credentials.access_token = "{secret}"'})

    line = only_error(path)

    assert line == (
        f"{path}: systems.shop.credentials.access_token: secret written inline; reference an "
        'environment variable instead, e.g. "env:SHOP_ACCESS_TOKEN"'
    )
    assert secret not in line


def test_a_secret_looking_key_outside_credentials_is_an_inline_secret(write: Write) -> None:
    secret = "sk_live_abcdef"
    shop = 'kind = "shopify"\nbase_url = "https://shop.example.com"\n'
    path = write({"systems.shop": shop + f'settings.webhook_secret = "{secret}"'})

    line = only_error(path)

    assert line.startswith(f"{path}: systems.shop.settings.webhook_secret: secret written inline")
    assert secret not in line


def test_a_password_in_a_url_is_an_inline_secret(write: Write) -> None:
    path = write({"hub": 'database_url = "postgresql://crossdock:hunter2@db.example.com/hub"'})

    line = only_error(path)

    assert line.startswith(f"{path}: hub.database_url: a password is written inline")
    assert "hunter2" not in line


def test_a_toml_syntax_error_is_one_line_with_its_position(write: Write) -> None:
    path = write(text='[hub]\nname = "x"\napi_port = = 1\n')

    line = only_error(path)

    assert line.startswith(f"{path}: line 3, column ")
    assert "invalid TOML" in line


def test_type_errors_are_one_line_each_naming_the_dotted_key(write: Write) -> None:
    budget = 'rate_budgets.rest = { kind = "leaky_bucket", capacity = -1, leak_per_second = 2 }'
    path = write(
        {
            "hub": 'api_port = "eighty"',
            "systems.wms": f'kind = "shipstation"\nbase_url = "https://ss.example.com"\n{budget}',
            "domains.stock": 'pattern = "stream"\nlatency_target = "soon"\n'
            'entities = ["inventory_level"]',
        }
    )

    errors = errors_of(path)

    keys = [line.removeprefix(f"{path}: ").split(": ", 1)[0] for line in errors]
    assert keys == [
        "hub.api_port",
        "systems.wms.rate_budgets.rest.capacity",
        "domains.stock.pattern",
        "domains.stock.latency_target",
    ]
    assert "valid integer" in errors[0]
    assert "greater than 0" in errors[1]
    assert "invalid duration 'soon'" in errors[3]


def test_unknown_keys_and_sections_are_errors(write: Write) -> None:
    path = write({"systems.wms": 'kind = "shipstation"\nbase_url = "https://x.example"\ncolour = 1',
                  "metrics": "port = 9000"})  # fmt: skip

    assert errors_of(path) == [
        f"{path}: metrics: unknown section (sections: hub, systems, ownership, domains, flows)",
        f"{path}: systems.wms.colour: unknown key",
    ]


def test_every_problem_is_collected_not_only_the_first(write: Write) -> None:
    path = write(
        {
            "hub": 'api_port = "x"',
            "ownership.ordr": 'default_owner = "erp"',
            "ownership.order": 'default_owner = "nobody"',
            "flows.order_fulfilment": 'erp = "wms"\nchannels = ["shop"]\n'
            'routing = [{ warehouse = "wms", countries = ["US"] }]',
        }
    )

    errors = errors_of(path)

    assert len(errors) == 4, errors
    joined = "\n".join(errors)
    for key in (
        "hub.api_port",
        "ownership.ordr",
        "ownership.order.default_owner",
        "flows.order_fulfilment.routing",
    ):
        assert f": {key}: " in joined


def test_a_flow_naming_an_inactive_system_or_the_wrong_kind_is_an_error(write: Write) -> None:
    path = write(
        {
            "flows.order_fulfilment": 'erp = "alt_erp"\nchannels = ["shop"]\n'
            'routing = [{ warehouse = "wms" }]',
            "flows.inventory": 'erp = "erp"\nwarehouses = ["shop"]',
        }
    )

    assert errors_of(path) == [
        f"{path}: flows.order_fulfilment.erp: system 'alt_erp' is declared with active = false",
        f"{path}: flows.inventory.warehouses[0]: system 'shop' is a shopify system, not a "
        "warehouse (use: edi, shipstation)",
    ]


def test_a_disabled_flow_may_name_an_inactive_system(write: Write) -> None:
    path = write(
        {
            "flows.order_fulfilment": 'enabled = false\nerp = "alt_erp"\nchannels = ["shop"]\n'
            'routing = [{ warehouse = "wms" }]',
        }
    )

    governance = load_governance(path)

    assert governance.enabled_flows() == ()


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    assert only_error(path) == f"{path}: (file): cannot read the file: No such file or directory"


def test_the_error_message_lists_every_line(write: Write) -> None:
    path = write({"ownership.ordr": 'default_owner = "erp"', "ownership.order": None})

    with pytest.raises(GovernanceError) as caught:
        load_governance(path)

    assert str(caught.value).splitlines()[1:] == caught.value.errors
    assert f"{path}: 2 problems" in str(caught.value)


# -- the environment --------------------------------------------------------------------------


def test_the_environment_overrides_hub_settings(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", "postgresql://crossdock:pw@db.internal/hub")
    monkeypatch.setenv("CROSSDOCK_API_PORT", "9123")
    path = write({"hub": 'database_url = "sqlite:///hub.db"\napi_port = 8080'})

    hub = load_governance(path).hub

    assert hub.database_url == "postgresql://crossdock:pw@db.internal/hub"
    assert hub.api_port == 9123


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CROSSDOCK_DATABASE_URL", raising=False)
    monkeypatch.delenv("CROSSDOCK_DATA_DIR", raising=False)
    monkeypatch.delenv("CROSSDOCK_SQLITE_SYNCHRONOUS", raising=False)
    path = write({"hub": 'data_dir = "var/hub"'})

    hub = load_governance(path).hub

    assert hub.database_url == "sqlite:///var/hub/crossdock.db"
    assert hub.is_sqlite
    assert hub.sqlite_synchronous == "FULL"


def test_a_bad_environment_override_names_its_variable(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSDOCK_API_PORT", "not-a-port")
    path = write()

    line = only_error(path)

    assert line.startswith(f"{path}: hub.api_port: ")
    assert line.endswith("(from environment variable CROSSDOCK_API_PORT)")


def test_governance_is_a_model_that_refuses_mutation(write: Write) -> None:
    governance = load_governance(write())

    assert isinstance(governance, Governance)
    assert governance.source == str(write())
    with pytest.raises(ValueError, match="frozen"):
        governance.systems["shop"].active = False  # type: ignore[misc]


def test_an_owner_declared_inactive_is_an_error(write: Write) -> None:
    path = write({"ownership.price": 'default_owner = "alt_erp"'})

    assert only_error(path) == (
        f"{path}: ownership.price.default_owner: system 'alt_erp' is declared with active = false"
    )


def test_a_url_that_does_not_suit_the_system_kind_is_an_error(write: Write) -> None:
    path = write({"systems.wms": 'kind = "edi"\nbase_url = "https://edi.example.com"'})

    errors = errors_of(path)

    assert errors[0] == (
        f"{path}: systems.wms.base_url: kind edi needs a URL with scheme file or ftps or sftp, "
        "not https"
    )


def test_an_unknown_rate_budget_kind_names_the_kind_key(write: Write) -> None:
    budget = 'rate_budgets.rest = { kind = "leaky", capacity = 40 }'
    path = write({"systems.wms": f'kind = "shipstation"\nbase_url = "https://x.example"\n{budget}'})

    assert only_error(path) == (
        f"{path}: systems.wms.rate_budgets.rest.kind: unknown kind 'leaky' "
        "(expected: leaky_bucket, cost, concurrency, window, daily)"
    )


def test_the_bus_url_must_be_a_nats_url(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSDOCK_BUS_URL", raising=False)
    assert load_governance(write({"hub": 'bus_url = "nats://127.0.0.1:4222"'})).hub.bus_url == (
        "nats://127.0.0.1:4222"
    )
    path = write({"hub": 'bus_url = "http://127.0.0.1:4222"'})

    line = only_error(path)

    assert line.startswith(f"{path}: hub.bus_url: ")
    assert "nats://host:port" in line
