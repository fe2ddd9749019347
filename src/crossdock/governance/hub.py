"""The `[hub]` table: the hub's own settings, which the environment may override.

Each field can be overridden by an environment variable ``CROSSDOCK_<FIELD>`` (for example
``CROSSDOCK_DATABASE_URL``, ``CROSSDOCK_API_PORT``), which wins over the file: a deployment points
the same governance file at its own database without editing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "CROSSDOCK_"
_DB_SCHEMES = frozenset({"sqlite", "postgresql", "postgres", "postgresql+psycopg"})


class HubSettings(BaseSettings):
    """The hub's own settings (`[hub]`).

    Attributes:
        name: A name for this hub, shown in the console and in event sources.
        data_dir: Where the embedded store and local files live (relative to the working directory).
        database_url: ``sqlite:///<path>`` or ``postgresql://...``; default: a SQLite file in
            `data_dir`. Never write a password here: set ``CROSSDOCK_DATABASE_URL`` instead.
        sqlite_synchronous: SQLite's ``synchronous`` pragma: FULL (default; every commit is on
            disk before a delivery is acknowledged), EXTRA, or NORMAL (faster, may lose the last
            commits on power loss in WAL mode). OFF is refused.
        api_host: The address the HTTP API listens on.
        api_port: Its port (0 picks a free one).
        bus_url: ``nats://host:port`` of a NATS JetStream server to publish every canonical event
            to (for subscribers outside the hub and fan-out between hub nodes); empty: none.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        env_ignore_empty=True,
        case_sensitive=False,
    )

    name: str = "crossdock"
    data_dir: Path = Path(".crossdock")
    database_url: str = ""
    sqlite_synchronous: Literal["FULL", "EXTRA", "NORMAL"] = "FULL"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    bus_url: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over the file; no dotenv or secret-directory sources."""
        return (env_settings, init_settings)

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("bus_url")
    @classmethod
    def _check_bus_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("nats", "tls"):
            raise ValueError(f"unsupported bus URL {value!r}; use nats://host:port")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value
        scheme = urlsplit(value).scheme
        if scheme not in _DB_SCHEMES:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}; use sqlite or postgresql"
            )
        return value

    @model_validator(mode="after")
    def _default_database(self) -> HubSettings:
        if not self.database_url:
            # The settings are frozen; this runs once, while the instance is being built.
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'crossdock.db'}")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite:")


def env_variable(field: str) -> str:
    """Return the environment variable that overrides a hub field (``CROSSDOCK_API_PORT``)."""
    return f"{ENV_PREFIX}{field.upper()}"


def url_has_password(url: str) -> bool:
    """Tell whether a URL carries a password inline."""
    return bool(urlsplit(url).password)
