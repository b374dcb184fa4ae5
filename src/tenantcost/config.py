"""Settings from environment variables (TENANTCOST_*) and an optional TOML file.

Every setting is declared once here, with its help text; ``tenantcost settings`` lists
them and a test checks that the README documents each one.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tenantcost.errors import UserError

CONFIG_FILE_ENV = "TENANTCOST_CONFIG"


def default_config_file() -> Path:
    """The settings file used when TENANTCOST_CONFIG is not set."""
    return Path(platformdirs.user_config_dir("tenantcost")) / "config.toml"


def config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV) or default_config_file())


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tenantcost"))


class Settings(BaseSettings):
    """tenantcost settings. Environment variables win over the settings file."""

    model_config = SettingsConfigDict(
        env_prefix="TENANTCOST_",
        extra="forbid",
        validate_default=True,
    )

    database_url: str | None = Field(
        default=None,
        description=(
            "PostgreSQL (>= 15) connection URL, e.g. postgresql://user:pw@host:5432/db. "
            "When unset, tenantcost starts its embedded PostgreSQL."
        ),
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded PostgreSQL keeps its data directory and log.",
    )
    embedded_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description=(
            "TCP port (on 127.0.0.1) for the embedded PostgreSQL; 0 picks a free port "
            "the first time and keeps it."
        ),
    )
    port: int = Field(
        default=8000,
        ge=0,
        le=65535,
        description=(
            "TCP port of the dashboard for `serve` and `demo run` (`make run PORT=N`) when "
            "--port is not given; 0 picks a free port."
        ),
    )
    connect_timeout: int = Field(
        default=5, ge=1, le=300, description="Seconds to wait when connecting to PostgreSQL."
    )
    hostwinds_api_url: str = Field(
        default="https://clients.hostwinds.com/cloud/api.php",
        description="Hostwinds Cloud API endpoint (the demo points it at the local fake server).",
    )
    hostwinds_api_key: SecretStr | None = Field(
        default=None, description="Hostwinds API key; never printed or logged."
    )
    hostwinds_timeout: float = Field(
        default=10.0, gt=0, description="Seconds before a Hostwinds API call times out."
    )
    hostwinds_retries: int = Field(
        default=4, ge=1, le=10, description="Attempts per Hostwinds API call before giving up."
    )

    # ---- telemetry and cost attribution (issue 5) --------------------------------------
    connection_memory_mb: Decimal = Field(
        default=Decimal(10),
        ge=0,
        description=(
            "Modelled memory per PostgreSQL connection in MB (1 GB = 1000 MB): memory "
            "GB-seconds = connection-seconds x this / 1000. A model, not a measurement."
        ),
    )
    usage_provider: str = Field(
        default="railway",
        min_length=1,
        description="Provider whose stored price book prices measured usage "
        "(`tenantcost pricebook import` stores one).",
    )
    usage_retention_months: int = Field(
        default=13,
        ge=1,
        description="Months of hourly usage kept; the collector drops older monthly partitions.",
    )
    storage_sample_rows: int = Field(
        default=100_000,
        ge=1,
        description="Shared tables with more (estimated) rows than this are sampled with "
        "TABLESAMPLE to estimate each tenant's row share of their size.",
    )

    webhook_url: str | None = Field(
        default=None,
        description="Where tier decisions and alerts are POSTed (JSON, HMAC-signed); unset: log only.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret for the webhook's HMAC-SHA256 signature."
    )
    webhook_retries: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Attempts per webhook delivery before it is reported failed.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise UserError(
            f"invalid settings: {problems}",
            f"check the TENANTCOST_* environment variables and {config_file()}",
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
