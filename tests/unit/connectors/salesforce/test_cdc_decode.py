"""Change events as CometD delivers them: parsing and echo recognition."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossdock.connectors.salesforce import DecodeError, is_echo, parse_change

FIXTURES = Path(__file__).parents[3] / "fixtures" / "payloads" / "salesforce"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes(), parse_float=Decimal)


def test_an_update_is_read_with_its_header() -> None:
    change = parse_change(_load("cdc_account_update.json"))

    assert change.channel == "/data/AccountChangeEvent"
    assert change.replay_id == 18420
    assert (change.entity, change.change_type) == ("Account", "UPDATE")
    assert change.record_ids == ("0015g00000AbCdEAAZ",)
    assert change.changed_fields == ("Website", "LastModifiedDate")
    assert change.commit_timestamp == 1795683302000
    assert not change.is_gap


def test_a_gap_overflow_names_every_record() -> None:
    change = parse_change(_load("cdc_contact_gap_overflow.json"))

    assert change.is_gap
    assert change.record_ids == ("0035g00000QrStUAAV", "0035g00000QrStVAAV")
    assert change.change_origin == ""


@pytest.mark.parametrize(
    ("origin", "echo"),
    [
        ("com/salesforce/api/rest/62.0;client=crossdock-hub", True),
        ("com/salesforce/api/rest/62.0;client=crossdock-hub-2", False),
        ("com/salesforce/api/rest/62.0;client=sales-console", False),
        ("com/salesforce/api/rest/62.0", False),
        ("", False),
    ],
)
def test_an_echo_is_recognised_by_the_exact_client_id(origin: str, echo: bool) -> None:
    message = _load("cdc_account_update.json")
    message["data"]["payload"]["ChangeEventHeader"]["changeOrigin"] = origin

    assert is_echo(parse_change(message), "crossdock-hub") is echo


@pytest.mark.parametrize(
    "broken",
    [
        {"channel": "/data/AccountChangeEvent"},
        {"channel": "/x", "data": {"payload": {}, "event": {"replayId": 1}}},
        {"channel": "/x", "data": {"payload": {"ChangeEventHeader": {}}, "event": {}}},
    ],
)
def test_a_message_that_is_no_change_event_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        parse_change(broken)
