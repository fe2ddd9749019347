"""Unit tests of the simulator kit's pure parts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path

import pytest
import typer

from crossdock._cli.sandbox import build_fault_body, parse_duration
from crossdock.sandbox.kit import (
    MANIFEST_FORMAT,
    Base64HmacSha256Signer,
    EffectLedger,
    FaultAction,
    FaultInjector,
    FaultSpec,
    HexHmacSha256Signer,
    LeakyBucket,
    ManifestError,
    RetrySchedule,
    ScenarioError,
    UnknownSystemError,
    factory_for,
    load_scenario,
    parse_scenario,
    read_manifest,
    register,
    system_entry,
    system_names,
    unregister,
    write_manifest,
)
from crossdock.sandbox.kit import Simulator as _Simulator


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_scenario_toml_and_json_keep_money_exact(tmp_path: Path) -> None:
    toml_file = tmp_path / "peak.toml"
    toml_file.write_text('seed = 9\n[[products]]\nsku = "A"\nprice = 19.99\n', encoding="utf-8")
    json_file = tmp_path / "calm.json"
    json_file.write_text('{"seed": 3, "products": [{"sku": "B", "price": 0.1}]}', encoding="utf-8")
    peak, calm = load_scenario(toml_file), load_scenario(json_file)
    assert (peak.seed, peak.name) == (9, "peak")
    assert peak.data["products"][0]["price"] == Decimal("19.99")
    assert (calm.seed, calm.data["products"][0]["price"]) == (3, Decimal("0.1"))
    assert "seed" not in peak.data


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("seed = ", "toml", "does not decode"),
        ("[1, 2]", "json", "top level"),
        ('{"seed": "x"}', "json", "seed must be an integer"),
        ("{}", "yaml", "unknown scenario format"),
    ],
)
def test_bad_scenarios_get_clear_errors(text: str, fmt: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, fmt=fmt)


def test_scenario_file_suffix_and_presence_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"\.toml or \.json"):
        load_scenario(tmp_path / "x.yaml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")


def test_fault_decisions_repeat_under_the_same_seed() -> None:
    spec = FaultSpec(error_rate=0.3, hang_rate=0.1, latency_ms=50, jitter_ms=40)
    runs = []
    for _ in range(2):
        injector = FaultInjector(seed=5)
        injector.configure(spec)
        runs.append([injector.decide() for _ in range(200)])
    assert runs[0] == runs[1]
    actions = [d.action for d in runs[0]]
    assert FaultAction.ERROR in actions
    assert FaultAction.HANG in actions
    assert all(0.01 <= d.delay_s <= 0.09 for d in runs[0] if d.action is FaultAction.PASS)
    other = FaultInjector(seed=6)
    other.configure(spec)
    assert [other.decide() for _ in range(200)] != runs[0]


def test_outage_window_ends_on_time() -> None:
    clock = _Clock()
    injector = FaultInjector(seed=1, monotonic=clock)
    injector.configure(FaultSpec(outage_s=60))
    assert injector.decide().action is FaultAction.OUTAGE
    clock.t += 59.9
    assert injector.decide().status == 503
    clock.t += 0.2
    assert injector.decide().action is FaultAction.PASS
    injector.configure(FaultSpec(outage_s=5, outage_mode="reset"))
    assert injector.decide().action is FaultAction.RESET
    injector.clear()
    assert injector.outage_remaining() == 0


def test_fault_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        FaultSpec(error_rate=1.5)
    with pytest.raises(ValueError, match="Extra inputs"):
        FaultSpec.model_validate({"latencyy_ms": 3})


def test_leaky_bucket_refuses_over_capacity_and_leaks() -> None:
    clock = _Clock()
    bucket = LeakyBucket(capacity=40, leak_per_s=2, monotonic=clock)
    results = [bucket.take() for _ in range(41)]
    assert all(r.allowed for r in results[:40])
    refused = results[40]
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(0.5)
    clock.t += 0.5
    assert bucket.take().allowed
    clock.t += 10
    assert bucket.peek().used == pytest.approx(20)
    assert bucket.take(cost=5, factor=0.25).capacity == 10


def test_shopify_signer_is_base64_hmac_over_raw_bytes() -> None:
    body = '{"name":"Zoë Ørsted"}'.encode()
    expected = base64.b64encode(hmac.new(b"s3cr3t", body, hashlib.sha256).digest()).decode()
    assert Base64HmacSha256Signer("s3cr3t").sign(body) == {"X-Shopify-Hmac-Sha256": expected}


def test_easypost_signer_normalises_the_secret_nfkd_and_writes_hex() -> None:
    body = b'{"id":"evt_1"}'
    # U+FB01 (the "fi" ligature) decomposes to "fi" under NFKD.
    signed = HexHmacSha256Signer("\ufb01sh").sign(body)
    expected = hmac.new(b"fish", body, hashlib.sha256).hexdigest()
    assert signed == {"X-Hmac-Signature": f"hmac-sha256-hex={expected}"}


def test_shopify_retry_schedule_is_eight_retries_over_four_hours() -> None:
    schedule = RetrySchedule.shopify()
    assert schedule.retries == 8
    assert sum(schedule.delays_s) == pytest.approx(4 * 3600)
    assert all(
        b == pytest.approx(2 * a)
        for a, b in zip(schedule.delays_s, schedule.delays_s[1:], strict=False)
    )
    fast = RetrySchedule.shopify(time_scale=0.001)
    assert fast.delay(0) == pytest.approx(schedule.delays_s[0] / 1000)
    assert fast.delay(8) is None


def test_effect_ledger_reports_per_kind_and_key() -> None:
    ledger = EffectLedger()
    ledger.attempt("order", "1001")
    ledger.created("order", "1001", state="open")
    ledger.attempt("order", "1001")
    ledger.absorbed("order", "1001")
    ledger.attempt("order", "1002")
    ledger.refused("order", "1002")
    ledger.state("order", "1002", "cancelled")
    one = ledger.report("order", "1001")["order"]["1001"]
    assert (one["attempts"], one["created"], one["duplicates_absorbed"]) == (2, 1, 1)
    assert one["history"] == ["attempt", "created", "attempt", "absorbed"]
    assert ledger.report()["order"]["1002"]["last_state"] == "cancelled"
    assert ledger.report("missing") == {"missing": {}}


def test_registry_knows_built_ins_and_registrations() -> None:
    class Toy(_Simulator):
        system = "toy"

    assert "shopify" in system_names()
    register("toy", Toy)
    try:
        assert factory_for("toy") is Toy
        assert "toy" in system_names()
    finally:
        unregister("toy")
    with pytest.raises(UnknownSystemError, match="no simulator named 'nope'"):
        factory_for("nope")


def test_manifest_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "sandbox.json"
    manifest = {"format": MANIFEST_FORMAT, "systems": {"shopify": {"base_url": "http://x"}}}
    write_manifest(manifest, path)
    assert read_manifest(path) == manifest
    assert system_entry(manifest, "shopify")["base_url"] == "http://x"
    with pytest.raises(ManifestError, match="running: shopify"):
        system_entry(manifest, "netsuite")
    (tmp_path / "other.json").write_text(json.dumps({"format": "else"}), encoding="utf-8")
    with pytest.raises(ManifestError, match="not a sandbox manifest"):
        read_manifest(tmp_path / "other.json")
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("text", "seconds"), [("200ms", 0.2), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0), ("3", 3.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_bad_duration_is_refused() -> None:
    with pytest.raises(typer.BadParameter, match="not a duration"):
        parse_duration("soon")


def test_fault_command_body_matches_the_fault_spec() -> None:
    body = build_fault_body(
        latency="200ms",
        jitter="50ms",
        error_rate=0.1,
        error_status=503,
        outage="60s",
        outage_mode="reset",
        hang_rate=0.05,
        throttle=0.5,
        phase="after",
        seed=4,
    )
    spec = FaultSpec.model_validate(body)
    assert (spec.latency_ms, spec.jitter_ms, spec.outage_s) == (200.0, 50.0, 60.0)
    assert (spec.hang_rate, spec.throttle_factor, spec.fault_phase, spec.seed) == (
        0.05,
        0.5,
        "after",
        4,
    )
