"""Deterministic Shopify-like ids: 64-bit integers that grow, and their GraphQL GIDs."""

from __future__ import annotations

import random
import uuid


class IdMaker:
    """Makes increasing 13-digit ids (the size of today's Shopify ids), repeatable under a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"shopify-ids:{seed}")
        self._next = 5_000_000_000_000 + self._rng.randrange(10**9)

    def next(self) -> int:
        """A fresh id."""
        self._next += self._rng.randrange(1, 5000)
        return self._next

    def token(self) -> str:
        """A 32-hex token (order tokens, cart tokens)."""
        return uuid.UUID(int=self._rng.getrandbits(128)).hex

    def uuid(self) -> str:
        """A UUID (webhook and event ids)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def confirmation(self) -> str:
        """A 9-character confirmation number."""
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return "".join(self._rng.choice(alphabet) for _ in range(9))


def gid(kind: str, ident: int | str) -> str:
    """``gid://shopify/<kind>/<id>``."""
    return f"gid://shopify/{kind}/{ident}"


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id of a GID of ``kind`` (query string ignored), or None if it is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    tail = value[len(prefix) :].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None
