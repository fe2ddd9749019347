"""Structured logging: correlation ids on every line of a unit of work, and no secret ever."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from crossdock.observability.logging import (
    REDACTED,
    bind_unit_of_work,
    configure_logging,
    get_logger,
    redact_secrets,
    register_secret,
    secret_registry,
)


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    secret_registry.clear()
    yield
    structlog.contextvars.clear_contextvars()
    secret_registry.clear()
    structlog.reset_defaults()


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_line_of_a_unit_of_work_carries_its_correlation_id() -> None:
    log = get_logger("test")
    merge = [structlog.contextvars.merge_contextvars]
    with capture_logs(processors=merge) as logs:
        log.info("before")
        with bind_unit_of_work(correlation_id="corr-1", command_id=7, destination="erp"):
            log.info("first")
            log.warning("second", extra="x")
        log.info("after")
    by_event = {entry["event"]: entry for entry in logs}
    assert "correlation_id" not in by_event["before"]
    assert "correlation_id" not in by_event["after"]
    for name in ("first", "second"):
        assert by_event[name]["correlation_id"] == "corr-1"
        assert by_event[name]["command_id"] == 7
        assert by_event[name]["destination"] == "erp"


def test_nested_units_of_work_restore_the_outer_binding() -> None:
    log = get_logger()
    with (
        capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs,
        bind_unit_of_work(correlation_id="outer"),
    ):
        with bind_unit_of_work(correlation_id="inner", step="s1"):
            log.info("in")
        log.info("out")
    assert [(e["event"], e["correlation_id"]) for e in logs] == [("in", "inner"), ("out", "outer")]
    assert "step" not in logs[1]


async def test_concurrent_tasks_keep_their_own_correlation_ids() -> None:
    log = get_logger()

    async def unit(corr: str) -> None:
        with bind_unit_of_work(correlation_id=corr):
            for i in range(3):
                await asyncio.sleep(0)
                log.info("step", i=i, expected=corr)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await asyncio.gather(*(unit(f"c{n}") for n in range(5)))
    assert len(logs) == 15
    assert all(e["correlation_id"] == e["expected"] for e in logs)


def test_production_output_is_json_lines_with_level_time_and_correlation_id() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    with bind_unit_of_work(correlation_id="corr-9"):
        get_logger("svc").info("hello", n=1)
    (line,) = _json_lines(out)
    assert line["event"] == "hello"
    assert line["level"] == "info"
    assert line["correlation_id"] == "corr-9"
    assert line["logger"] == "svc"
    assert isinstance(line["timestamp"], str)


def test_level_filters_lines() -> None:
    out = io.StringIO()
    configure_logging(stream=out, level="warning")
    log = get_logger()
    log.info("hidden")
    log.warning("shown")
    assert [e["event"] for e in _json_lines(out)] == ["shown"]


def test_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(stream=io.StringIO(), level="chatty")


def test_console_renderer_when_asked() -> None:
    out = io.StringIO()
    configure_logging(stream=out, json=False)
    get_logger().info("hello-console", password="hunter2-long")
    text = out.getvalue()
    assert "hello-console" in text
    assert "hunter2-long" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "client_secret",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "access_token",
        "refresh_token",
        "hmac_signature",
        "X-Shopify-Hmac-Signature",
        "cookie",
        "private_key",
    ],
)
def test_secret_looking_keys_are_redacted_at_any_depth(key: str) -> None:
    event = {"event": "call", key: "s3cr3t-value", "nested": {"headers": {key: "s3cr3t-value"}}}
    redacted = redact_secrets(None, "info", event)
    assert redacted[key] == REDACTED
    assert redacted["nested"] == {"headers": {key: REDACTED}}


def test_ordinary_keys_survive_redaction() -> None:
    event = {"event": "claimed", "fencing_token": 12, "idempotency_key": "k-1", "sku": "A"}
    assert redact_secrets(None, "info", dict(event)) == event


def test_registered_secret_values_are_scrubbed_from_any_text() -> None:
    register_secret("sk_live_abcdef123456")
    register_secret(b"hmac-key-bytes-0001")
    register_secret("abc")  # too short to scrub from free text: ignored
    event = {
        "event": "request failed for https://x.test/?key=sk_live_abcdef123456",
        "detail": ["hmac-key-bytes-0001 was used", {"deep": "sk_live_abcdef123456!"}],
        "word": "abc",
    }
    redacted = redact_secrets(None, "error", event)
    text = json.dumps(redacted)
    assert "sk_live_abcdef123456" not in text
    assert "hmac-key-bytes-0001" not in text
    assert redacted["word"] == "abc"
    assert REDACTED in redacted["event"]


def test_bearer_credentials_in_free_text_are_scrubbed() -> None:
    redacted = redact_secrets(None, "info", {"event": "sent Bearer eyJhbGciOi.xyz.abc123 ok"})
    assert redacted["event"] == f"sent Bearer {REDACTED} ok"


def test_no_secret_reaches_the_output_even_inside_a_traceback() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    secret = "tok_9f8e7d6c5b4a"
    register_secret(secret)
    try:
        raise RuntimeError(f"upstream rejected key {secret}")
    except RuntimeError:
        get_logger().exception("call failed", token=secret, headers={"Authorization": secret})
    text = out.getvalue()
    assert secret not in text
    (line,) = _json_lines(out)
    assert line["token"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED}
    assert "upstream rejected key" in json.dumps(line["exception"])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_console_renderer_by_default() -> None:
    out = _Terminal()
    configure_logging(stream=out)
    get_logger().info("for-humans", n=1)
    text = out.getvalue()
    assert "for-humans" in text
    assert not text.lstrip().startswith("{")
