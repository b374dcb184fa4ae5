"""``tenantcost settings``: every setting, where it comes from, and its current value."""

from __future__ import annotations

import os

import typer
from pydantic import SecretStr

from tenantcost.config import Settings, config_file, get_settings
from tenantcost.db.connect import redact
from tenantcost.output import OutputFormat, emit


def settings_rows() -> list[dict[str, str]]:
    current = get_settings()
    rows = []
    for name, field in Settings.model_fields.items():
        env = f"TENANTCOST_{name.upper()}"
        value = getattr(current, name)
        # URLs may carry a password or token (database, webhook): masked like every message
        shown = (
            "********"
            if isinstance(value, SecretStr)
            else ("" if value is None else redact(str(value)))
        )
        source = "env" if env in os.environ else "file/default"
        rows.append(
            {
                "setting": name,
                "env": env,
                "value": shown,
                "source": source,
                "help": field.description or "",
            }
        )
    return rows


def settings_command(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """List every setting with its environment variable, current value and meaning.

    Settings come from TENANTCOST_* environment variables, then the TOML file named by
    TENANTCOST_CONFIG (default: the per-user config directory), then defaults.
    """
    emit(settings_rows(), fmt, title=f"settings (file: {config_file()})")
