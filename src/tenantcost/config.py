"""Settings from environment variables (TENANTCOST_*) and an optional TOML file.

Every setting is declared once here, with its help text; ``tenantcost settings`` lists
them and a test checks that the README documents each one.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tenantcost.errors import UserError

CONFIG_FILE_ENV = "TENANTCOST_CONFIG"

#: The report schedules' defaults (daily, weekly, monthly: five-field cron, UTC). Settings
#: validate other values with croniter; these are valid (a test checks), so loading the
#: settings does not import croniter for every command.
SHIPPED_CRONS = ("0 6 * * *", "0 6 * * 1", "0 6 1 * *")


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
    hostwinds_min_monthly: Decimal = Field(
        default=Decimal("0.50"),
        ge=0,
        allow_inf_nan=False,
        description="A Hostwinds price below this many USD a month is refused as implausible "
        "(the VPS is reported failed and keeps its stored cost).",
    )
    hostwinds_max_monthly: Decimal = Field(
        default=Decimal(10000),
        gt=0,
        le=Decimal("999999.99"),
        allow_inf_nan=False,
        description="A Hostwinds price above this many USD a month is refused as implausible "
        "(the VPS is reported failed and keeps its stored cost).",
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
        description="Months of usage evidence kept (hourly for TENANTCOST_USAGE_HOURLY_DAYS, "
        "then daily); the collector drops older daily evidence and hourly partitions.",
    )
    storage_sample_rows: int = Field(
        default=100_000,
        ge=1,
        description="Shared tables with more (estimated) rows than this are sampled with "
        "TABLESAMPLE to estimate each tenant's row share of their size.",
    )
    sampler_interval: float = Field(
        default=1.0,
        ge=0.05,
        le=3600,
        description="Seconds between two backend CPU samples (per-backend CPU from the kernel, "
        "for a server on this machine); the sampler runs inside `collect --every`, "
        "`collect --sample-for` and the dashboard's jobs.",
    )
    citus_worker_url: str | None = Field(
        default=None,
        description="On a Citus coordinator, how `collect` connects to each worker to read its "
        "pg_stat_statements / pg_stat_kcache: a URL with {host} and {port} filled in from "
        "pg_dist_node. Unset: the coordinator URL's user, password and database at the "
        "worker's host and port.",
    )
    proc_root: Path = Field(
        default=Path("/proc"),
        description="Where the backend CPU sampler reads process CPU times (procfs); a "
        "different root only for tests or a bind-mounted host /proc.",
    )

    hourly_cost_retention_days: int = Field(
        default=14,
        ge=8,
        le=400,
        description="Days of per-tenant hourly usage cost kept (tier ceilings and cost-jump "
        "alerts read the last 7 days); older hours live on in the daily and monthly ledger.",
    )
    period_close_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 62,
        description="Hours after a month ends before its figures are closed (final); importing "
        "the month's invoice closes it at once. Re-attributing a closed month needs --reopen.",
    )

    webhook_url: str | None = Field(
        default=None,
        description="Where tier decisions and alerts are POSTed (JSON, HMAC-signed) by the "
        "outbox drain; unset: nothing is queued, log only.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret for the webhook's HMAC-SHA256 signature."
    )
    webhook_retries: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Attempts per webhook event (one per outbox drain, with backoff) before it "
        "is given up and marked failed; `tenantcost outbox retry` tries it again.",
    )
    webhook_timeout: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="Seconds one webhook POST may take before the attempt counts as failed.",
    )

    # ---- outbox (issue 13): events delivered after their transaction ------------------
    outbox_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wait after an event's first failed delivery; doubles after each "
        "further failure, up to outbox_backoff_max_seconds.",
    )
    outbox_backoff_max_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Longest wait between two delivery attempts of one outbox event.",
    )
    outbox_drain_limit: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Most outbox events one drain attempts (serve's job, collect --every).",
    )

    # ---- scheduled executive reports (issue 17) ----------------------------------------
    report_daily_cron: str = Field(
        default=SHIPPED_CRONS[0],
        description="When the daily executive report (the UTC day before) is generated: a "
        "five-field cron expression in UTC; empty: no daily report.",
    )
    report_weekly_cron: str = Field(
        default=SHIPPED_CRONS[1],
        description="When the weekly executive report (the ISO week before, Monday to Monday "
        "UTC) is generated (cron, UTC); empty: no weekly report.",
    )
    report_monthly_cron: str = Field(
        default=SHIPPED_CRONS[2],
        description="When the monthly executive report (the calendar month before) is "
        "generated (cron, UTC); empty: no monthly report.",
    )
    report_late_minutes: int = Field(
        default=60,
        ge=0,
        le=100_000,
        description="A scheduled report generated more than this many minutes after its "
        "time (the service was down) is sent once, marked late.",
    )
    report_catch_up: int = Field(
        default=7,
        ge=0,
        le=400,
        description="After an outage, at most this many missed periods of each report kind "
        "are generated (the newest ones), each once and marked late.",
    )
    report_email_to: str | None = Field(
        default=None,
        description="Comma-separated addresses the scheduled reports are emailed to (HTML "
        "body, PDF attached); unset: no email.",
    )
    report_email_from: str = Field(
        default="tenantcost@localhost",
        min_length=3,
        description="The From address of the report emails.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server that sends the report emails."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade the SMTP connection with STARTTLS (certificate verified) before "
        "logging in; false only for a trusted local relay.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) to verify the SMTP server with; unset: the system's.",
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP login name (AUTH); unset: no login."
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password; never printed or logged."
    )
    smtp_timeout: float = Field(
        default=20.0, gt=0, le=300, description="Seconds an SMTP conversation may take."
    )
    report_webhook_url: str | None = Field(
        default=None,
        description="Where the scheduled reports are POSTed (JSON, HMAC-signed like the tier "
        "webhook); unset: no report webhook.",
    )
    report_webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the report webhook's HMAC-SHA256 signature."
    )
    report_webhook_format: Literal["json", "slack"] = Field(
        default="json",
        description="json: {kind, period, summary, html, pdf_base64}; slack: a Slack-compatible "
        "{text} message with the headline figures (still signed).",
    )
    report_dir: Path | None = Field(
        default=None,
        description="Directory the scheduled reports are written to (KIND-PERIOD.html and "
        ".pdf); unset: not written.",
    )

    @field_validator("report_daily_cron", "report_weekly_cron", "report_monthly_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not value.strip():
            return ""
        if value in SHIPPED_CRONS:  # checked by a test; croniter loads only for other values
            return value
        from tenantcost.execreport.schedule import check_cron

        try:
            return check_cron(value)
        except UserError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None

    # ---- PostHog export (issue 17) -----------------------------------------------------
    posthog_host: str | None = Field(
        default=None,
        description="PostHog host the analytics export sends to (e.g. https://eu.i.posthog.com "
        "or your own); with the key set, `serve` and `collect --every` export on a schedule.",
    )
    posthog_api_key: SecretStr | None = Field(
        default=None,
        description="PostHog project API key for the export; never printed or logged.",
    )
    posthog_interval: float = Field(
        default=3600.0,
        ge=60,
        le=7 * 86_400,
        description="Seconds between two PostHog exports run by `serve` and `collect --every` "
        "(each queues what is new in the outbox and delivers it).",
    )
    posthog_timeout: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds one PostHog upload may take before the attempt counts as failed.",
    )
    posthog_retries: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Attempts per PostHog event (one per outbox drain, with backoff) before it "
        "is given up; `tenantcost outbox retry --sink posthog` tries again.",
    )

    # ---- dashboard hardening (issue 13) -----------------------------------------------
    web_db_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "Seconds a dashboard request waits for a database connection; after that (e.g. "
            "while the database is down) it answers 503 instead of hanging."
        ),
    )
    login_failures_per_account: int = Field(
        default=5,
        ge=1,
        le=1000,
        description=(
            "Failed logins to one account name before the dashboard makes it wait (HTTP 429 "
            "with Retry-After): 1 s, then doubling with each further failure."
        ),
    )
    login_failures_per_ip: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description=(
            "Failed logins from one client address (any names) before it must wait, "
            "doubling like the per-account wait."
        ),
    )
    login_lockout_max_seconds: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="Longest wait imposed after repeated failed logins, in seconds.",
    )
    login_hash_workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description=(
            "Threads that check passwords (scrypt, 16 MB each), apart from the request "
            "threads; more logins at once wait in a short queue."
        ),
    )
    login_hash_queue: int = Field(
        default=8,
        ge=0,
        le=1000,
        description=(
            "Logins that may wait for a password-checking thread; beyond that a login "
            "is answered 503 with Retry-After at once."
        ),
    )
    web_active_requests: int = Field(
        default=4,
        ge=0,
        le=1000,
        description=(
            "Dashboard requests each server process works on at once; more wait their turn "
            "in arrival order (a short, fair wait instead of every request slowing every "
            "other). 0: no limit."
        ),
    )
    web_cache_mb: int = Field(
        default=64,
        ge=0,
        le=4096,
        description=(
            "Megabytes (estimated) of page data and rendered page parts each dashboard "
            "process keeps until the figures' next refresh; 0 turns the cache off."
        ),
    )
    web_cache_entries: int = Field(
        default=2000,
        ge=0,
        le=1_000_000,
        description=(
            "Most cached pages and page parts per dashboard process (least recently used "
            "dropped first); 0 turns the cache off."
        ),
    )
    token_expiry_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days a new API token stays valid unless `users token --expires-in` says.",
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "Mark dashboard cookies Secure: auto (when the request came over https, including "
            "behind a TLS proxy listed in TENANTCOST_FORWARDED_ALLOW_IPS), always, or never."
        ),
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description=(
            "Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto "
            "headers are trusted (client address, https); unset: no proxy headers are read."
        ),
    )
    allowed_hosts: str = Field(
        default="127.0.0.1,localhost,[::1]",
        min_length=1,
        description=(
            "Comma-separated host names the dashboard answers to (Host header, port aside; "
            "'*.example.com' wildcards allowed); others get HTTP 400. `serve --host ADDR` "
            "adds ADDR."
        ),
    )

    # ---- usage evidence retention (issue 15) -------------------------------------------
    usage_hourly_days: int = Field(
        default=21,
        ge=3,
        le=400,
        description="Days of hourly usage evidence kept; older UTC days are rolled up into "
        "daily evidence (tenant_usage_daily) by the collector and `collect --retention`, and "
        "their hourly partitions dropped. A rolled-up day keeps the cost it was priced to and "
        "cannot be re-priced. 21: a year at 10,000 tenants with a real collector's ~14 rows "
        "per tenant-hour is ~40 GB, each further day ~0.8 GB (bench/README.md).",
    )

    pricing_work_mem_mb: int = Field(
        default=128,
        ge=4,
        le=4096,
        description="work_mem (MB) for the statements that price a day of usage evidence "
        "(set for their transaction only): a day's sort and best-source ranking stay in memory "
        "instead of spilling to disk (~75 MB a day at 10,000 tenants with the demo's rows).",
    )
    pricing_connections: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Database connections `attribute --month` prices changed days on at once "
        "(days split between them; pricing is CPU-bound in the server: one per core helps).",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: str) -> str:
        """Names, addresses ([::1] for IPv6), '*.example.com', or '*' alone (any host)."""
        for host in (h.strip() for h in value.split(",")):
            if (
                not host
                or "/" in host
                or (
                    "*" in host
                    and host != "*"
                    and not (host.startswith("*.") and "*" not in host[1:])
                )
            ):
                raise ValueError(
                    f"{host!r} is not a host name pattern (use names like dash.example.com, "
                    "*.example.com, 127.0.0.1 or [::1], separated by commas)"
                )
        return value

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
