"""The demo governance: the file is valid, and the manifest fills URLs and secrets, not the file."""

from __future__ import annotations

from typing import Any

from crossdock.governance import SystemKind, load_governance
from crossdock.hub.demo import demo_governance

from .conftest import DEMO_CONFIG


def _manifest() -> dict[str, Any]:
    return {
        "systems": {
            "shopify": {
                "base_url": "http://127.0.0.1:4101",
                "credentials": {
                    "shop_domain": "demo-shop.myshopify.com",
                    "access_token": "shpat_test",
                    "client_secret": "hook-secret",
                },
            },
            "shipstation": {
                "base_url": "http://127.0.0.1:4102",
                "credentials": {"api_key": "k", "api_secret": "s"},
            },
            "netsuite": {"base_url": "http://127.0.0.1:4103", "credentials": {}},
            "edi3pl": {"base_url": "http://127.0.0.1:4104", "credentials": {}},
        }
    }


def test_the_demo_file_is_valid_and_holds_only_env_references() -> None:
    governance = load_governance(DEMO_CONFIG)
    assert {s.kind for s in governance.systems.values()} == set(SystemKind)
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    assert "hook-secret" not in text
    for system in governance.systems.values():
        assert all(ref.variable.startswith("DEMO_") for ref in system.credentials.values())


def test_the_manifest_fills_base_urls_and_secrets() -> None:
    setup = demo_governance(load_governance(DEMO_CONFIG), _manifest())
    systems = setup.governance.systems
    assert systems["shopify"].base_url == "http://127.0.0.1:4101"
    assert systems["shopify"].settings["shop_domain"] == "demo-shop.myshopify.com"
    assert systems["edi_3pl"].base_url.startswith("sftp://")  # EDI files do not travel over HTTP
    secret_ref = systems["shopify"].credentials["webhook_secret"]
    assert setup.environ[secret_ref.variable] == "hook-secret"
    token_ref = systems["shipstation"].credentials["hook_token"]
    assert len(setup.environ[token_ref.variable]) >= 32  # chosen by the demo
    assert setup.simulator_of["edi_3pl"] == "edi3pl"


def test_a_system_without_a_running_simulator_is_turned_off_with_its_reason() -> None:
    setup = demo_governance(load_governance(DEMO_CONFIG), _manifest())
    assert not setup.governance.systems["easypost"].active
    assert setup.inactive["easypost"] == "no easypost simulator is running"
    assert "businesscentral" not in setup.inactive  # already inactive in the file
    assert "easypost" not in setup.governance.active_systems()
