"""Credentials are environment references, resolved only on use and never shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crossdock.governance import (
    GovernanceError,
    SecretRef,
    SecretResolutionError,
    governance_warnings,
    is_secret_key,
    load_governance,
)


@pytest.mark.parametrize(
    "key",
    ["access_token", "client_secret", "password", "api_key", "apiKey", "private_key", "token_id"],
)
def test_names_that_look_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["client_id", "account_id", "username", "base_url", "monkey"])
def test_names_that_do_not_look_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_a_reference_resolves_from_the_environment_when_used() -> None:
    ref = SecretRef.parse("env:SHOP_TOKEN")

    secret = ref.resolve({"SHOP_TOKEN": "shpat_live"})

    assert secret.get_secret_value() == "shpat_live"
    assert "shpat_live" not in repr(secret)
    assert "shpat_live" not in str(secret)
    assert str(ref) == "env:SHOP_TOKEN"


@pytest.mark.parametrize("text", ["shpat_live", "env:", "env:1BAD", "ENV:TOKEN", "env:A-B"])
def test_anything_but_a_well_formed_reference_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="reference to an environment variable"):
        SecretRef.parse(text)


def test_a_missing_variable_is_a_clear_error_at_resolution_time(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_ACCESS_TOKEN", raising=False)
    path = write()
    governance = load_governance(path)  # loading never reads a secret

    with pytest.raises(SecretResolutionError) as caught:
        governance.credential("shop", "access_token")

    assert str(caught.value) == (
        f"{path}: systems.shop.credentials.access_token: "
        "environment variable SHOP_ACCESS_TOKEN is not set"
    )


def test_a_set_variable_resolves_and_the_warning_about_it_goes_away(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    governance = load_governance(write())
    monkeypatch.delenv("SHOP_ACCESS_TOKEN", raising=False)
    unset = governance_warnings(governance)
    monkeypatch.setenv("SHOP_ACCESS_TOKEN", "shpat_secret_value")

    resolved = governance.credential("shop", "access_token")
    warnings = governance_warnings(governance)

    assert resolved.get_secret_value() == "shpat_secret_value"
    assert any("SHOP_ACCESS_TOKEN is not set" in line for line in unset)
    assert not any("SHOP_ACCESS_TOKEN" in line for line in warnings)
    assert not any("shpat_secret_value" in line for line in warnings)


def test_a_malformed_reference_in_credentials_is_a_one_line_error(
    write: Callable[..., Path],
) -> None:
    shop = 'kind = "shopify"\nbase_url = "https://shop.example.com"\n'
    path = write({"systems.shop": shop + 'credentials.access_token = "env:not valid"'})

    with pytest.raises(GovernanceError) as caught:
        load_governance(path)

    assert caught.value.errors == [
        f"{path}: systems.shop.credentials.access_token: a credential must be a reference to an "
        'environment variable, such as "env:API_TOKEN"'
    ]
