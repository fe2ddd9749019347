"""One catalogue: every simulator the demo seeds sells exactly the storefront's SKUs."""

from __future__ import annotations

from pathlib import Path

from crossdock.hub.demo import demo_scenarios, storefront_catalogue
from crossdock.hub.demo.catalogue import DEMO_AUTO_SHIP, ERP_STOCK
from crossdock.sandbox.shopify import default_scenario


def test_every_simulator_gets_the_storefronts_skus_and_nothing_else(tmp_path: Path) -> None:
    shop = default_scenario().data
    catalogue = storefront_catalogue(shop)
    skus = {item.sku for item in catalogue}
    sold = {
        str(v["sku"])
        for p in shop["products"]
        for v in p["variants"]
        if v.get("sku") and not v.get("gift_card")
    }
    assert skus == sold
    assert skus  # the gift card (no SKU) is left out, the rest is in
    prices = {item.sku: item.price for item in catalogue}

    scenarios = demo_scenarios(edi_mailbox=tmp_path / "mailbox")
    netsuite = scenarios["netsuite"].data
    assert {i["externalId"] for i in netsuite["items"]} == skus
    assert all(i["itemId"] == i["externalId"] for i in netsuite["items"])
    locations = {loc["id"] for loc in netsuite["locations"]}
    assert all(set(i["onHand"]) == locations for i in netsuite["items"])
    assert {i["externalId"]: i["basePrice"] for i in netsuite["items"]} == prices

    salesforce = scenarios["salesforce"].data
    assert {i["sku"]: i["price"] for i in salesforce["catalog"]} == prices

    company = scenarios["businesscentral"].data["company"]
    assert {i["number"] for i in company["items"]} == skus
    assert all(i["inventory"] == ERP_STOCK for i in company["items"])

    edi = scenarios["edi3pl"].data
    assert set(edi["stock"]) == skus
    assert edi["mailbox"] == str(tmp_path / "mailbox")
    assert (tmp_path / "mailbox").is_dir()

    assert scenarios["shipstation"].data["auto_ship"] == dict(DEMO_AUTO_SHIP)
    # The other keys of each simulator's own default scenario are kept.
    assert netsuite["account_id"]
    assert salesforce["pricebook"] == "Standard Price Book"
