"""Credentials are environment-variable references (``"env:SHOPIFY_ACCESS_TOKEN"``), never values.

A reference is resolved only when a connector needs the credential, and the value comes back as a
`pydantic.SecretStr`, so that printing or logging it shows ``**********``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, SecretStr

from crossdock.governance.errors import SecretResolutionError

ENV_PREFIX = "env:"
_NOT_A_REFERENCE = (
    'a credential must be a reference to an environment variable, such as "env:API_TOKEN"'
)
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# A key is secret when one of its words (split on _ - . or a case change) is one of these.
_SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "key",
        "apikey",
        "private",
        "privatekey",
        "credential",
        "credentials",
        "signature",
        "cert",
        "certificate",
    }
)
_WORD_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")


def is_secret_key(name: str) -> bool:
    """Tell whether a key's name says it holds a secret (``access_token``, ``apiKey``, ...)."""
    words = [word.lower() for word in _WORD_SPLIT.split(name) if word]
    return any(word in _SECRET_WORDS for word in words)


def is_env_reference(value: object) -> bool:
    """Tell whether a value is a well-formed ``env:VARIABLE`` reference."""
    return (
        isinstance(value, str)
        and value.startswith(ENV_PREFIX)
        and _VARIABLE.fullmatch(value[len(ENV_PREFIX) :]) is not None
    )


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference to a secret held in an environment variable.

    Attributes:
        variable: The name of the environment variable, for example ``SHOPIFY_ACCESS_TOKEN``.
    """

    variable: str

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``"env:NAME"``.

        Raises:
            ValueError: The text is not a reference to an environment variable.
        """
        if not is_env_reference(text):
            raise ValueError(_NOT_A_REFERENCE)
        return cls(text[len(ENV_PREFIX) :])

    def is_set(self, environ: Mapping[str, str] | None = None) -> bool:
        """Tell whether the variable is set to a non-empty value (without reading it out)."""
        env = os.environ if environ is None else environ
        return bool(env.get(self.variable))

    def resolve(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret now, from `environ` (default: the process environment).

        Raises:
            SecretResolutionError: The variable is not set or is empty.
        """
        env = os.environ if environ is None else environ
        value = env.get(self.variable)
        if not value:
            raise SecretResolutionError(f"environment variable {self.variable} is not set")
        return SecretStr(value)

    def __str__(self) -> str:
        return f"{ENV_PREFIX}{self.variable}"


def _validate_ref(value: Any) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    if not isinstance(value, str):
        raise ValueError(_NOT_A_REFERENCE)
    return SecretRef.parse(value)


EnvRef = Annotated[SecretRef, PlainValidator(_validate_ref), PlainSerializer(str, return_type=str)]
"""A `SecretRef` field, written ``"env:NAME"`` in the file."""
