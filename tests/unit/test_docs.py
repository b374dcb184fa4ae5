"""The README documents every setting and every CLI command group."""

from __future__ import annotations

from pathlib import Path

import typer.main

from tenantcost.cli import app
from tenantcost.config import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"TENANTCOST_{n.upper()}"
        for n in Settings.model_fields
        if f"TENANTCOST_{n.upper()}" not in README
    ]
    assert missing == []


def test_every_command_is_documented() -> None:
    root = typer.main.get_command(app)
    ctx = root.make_context("tenantcost", ["settings"])
    names = root.list_commands(ctx)  # type: ignore[attr-defined]
    assert len(names) >= 13  # sub-commands load on demand: list them, do not read .commands
    missing = []
    for group_name in names:
        group = root.get_command(ctx, group_name)  # type: ignore[attr-defined]
        for name in getattr(group, "commands", {None: None}):
            words = f"tenantcost {group_name}" + (f" {name}" if name else "")
            if (
                words not in README
                and f"{group_name} {name}" not in README
                and f"`{name}" not in README
            ):
                missing.append(words)
    assert missing == []
