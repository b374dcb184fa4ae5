"""The CLI starts light (sub-commands load on demand) and its help reads well."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantcost.cli import COMMANDS, EXTRA_COMMANDS, app, load_command, reflow

HEAVY = ["fastapi", "uvicorn", "matplotlib", "alembic", "psycopg_pool", "psycopg", "sqlalchemy"]

runner = CliRunner(env={"COLUMNS": "100"})


def all_modules_after(code: str) -> set[str]:
    """Every module a fresh interpreter that runs ``code`` has imported."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def modules_after(code: str) -> set[str]:
    """Top-level modules imported by a fresh interpreter that runs ``code``."""
    return {name.partition(".")[0] for name in all_modules_after(code)}


@pytest.mark.parametrize(
    "code",
    [
        "import tenantcost.cli",
        "from typer.testing import CliRunner\nfrom tenantcost.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "assert CliRunner().invoke(app, ['--version']).exit_code == 0",
    ],
)
def test_version_and_help_import_no_heavy_module(code: str) -> None:
    loaded = modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_loading_every_command_group_leaves_the_heavy_libraries_to_the_commands() -> None:
    loaded = modules_after(
        "from tenantcost.cli import COMMANDS, load_command\n"
        "for name in COMMANDS:\n    load_command(name)"
    )
    web_and_migrations = {"fastapi", "uvicorn", "matplotlib", "alembic", "psycopg_pool"}
    assert not loaded & web_and_migrations, sorted(loaded & web_and_migrations)


def test_root_help_lists_every_command_with_its_own_first_line() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, (_, short) in COMMANDS.items():
        assert name in result.output
        command = load_command(name)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert own.startswith(short.rstrip(".")), (name, own, short)


def test_group_help_lists_the_commands_added_from_elsewhere_without_loading_them() -> None:
    for group, extras in EXTRA_COMMANDS.items():
        command: Any = load_command(group)
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0
        for name, (_, short) in extras.items():
            assert name in result.output
            own = " ".join((command.get_command(None, name).help or "").split("\n\n")[0].split())
            assert own.startswith(short.rstrip(".")), (name, own, short)


@pytest.mark.parametrize(
    "code",
    [
        "from tenantcost.cli import load_command\n"
        "load_command('report').get_command(None, 'health')",
        # the group's help lists the added commands from the table, without importing them
        "from typer.testing import CliRunner\nfrom tenantcost.cli import app\n"
        "assert CliRunner().invoke(app, ['report', '--help']).exit_code == 0",
    ],
    ids=["report health", "report --help"],
)
def test_a_report_command_loads_no_other_commands_modules(code: str) -> None:
    """The report group imports the report modules, not the attribution's, the web's or the
    executive reports' (the commands ``report`` gains from them load only when they run)."""
    loaded = all_modules_after(code)
    assert "tenantcost.report.cli" in loaded
    elsewhere = ("tenantcost.attribution", "tenantcost.web", "tenantcost.execreport")
    assert not {m for m in loaded if m.startswith(elsewhere)}


def test_every_command_groups_help_loads_neither_the_database_driver_nor_its_queries() -> None:
    """`tenantcost GROUP --help` is a help screen: psycopg (and the tagging library built on
    it) loads when a command runs; it was a third of `report --help`'s 0.7 s."""
    loaded = all_modules_after(
        "from typer.testing import CliRunner\nfrom tenantcost.cli import COMMANDS, app\n"
        "for name in COMMANDS:\n"
        "    assert CliRunner().invoke(app, [name, '--help']).exit_code == 0, name"
    )
    assert not loaded & {"psycopg", "tenantcost.telemetry.tagging"}


def test_shell_completion_is_offered_by_the_root_command_only() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "--install-completion" not in result.output, name
        assert "--show-completion" not in result.output, name


def all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for name in COMMANDS:
        command: Any = load_command(name)
        subs = command.list_commands(None) if hasattr(command, "list_commands") else []
        paths += [[name, sub] for sub in subs] if subs else [[name]]
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_every_help_has_no_type_brackets_and_explains_the_command(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(bool|str|int|float|text)>", result.output), result.output
    command: Any = load_command(path[0])
    if len(path) > 1:
        command = command.get_command(None, path[1])
    assert command.help and len(command.help.split()) >= 4, path  # a sentence, not a stub


def test_report_commands_take_the_view_options() -> None:
    for path in (["report", "health"], ["tiers", "alerts"], ["model", "cost"], ["users", "list"]):
        output = runner.invoke(app, [*path, "--help"]).output
        assert "--columns" in output and "--wide" in output and "--top" in output, path
    # tenant-costs keeps its own --top (the N costliest tenants)
    output = runner.invoke(app, ["report", "tenant-costs", "--help"]).output
    assert output.count("--top") == 1 and "costliest" in output


def test_docstrings_are_reflowed_but_lists_keep_their_lines() -> None:
    text = """First line
    goes on here.

    A paragraph that was
    hard-wrapped.

    - one item
      continued
    - two"""
    assert reflow(text) == (
        "First line goes on here.\n\nA paragraph that was hard-wrapped.\n\n"
        "- one item continued\n- two"
    )


def test_model_cost_at_80_columns_shows_every_shown_figure_whole() -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["model", "cost"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    # ENTERPRISE: price $100.00; margin (100 - 12.80) / 100 = 87.2 %
    assert "$100.00" in result.output and "87.2" in result.output
    assert "not shown (terminal 80 columns wide)" in result.output


def test_a_column_selection_of_an_unknown_name_is_one_clear_error() -> None:
    result = runner.invoke(app, ["model", "cost", "--columns", "tier,nope"])
    assert result.exit_code == 2
    assert "no column named nope" in result.output and "Traceback" not in result.output
    csv_out = runner.invoke(app, ["model", "cost", "--format", "csv", "--columns", "total,tier"])
    assert csv_out.output.splitlines()[0] == "total,tier"


def test_a_busy_port_is_reported_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import tenantcost.demo.main_job as main_job

    def must_not_run(**kwargs: Any) -> None:
        raise AssertionError("the main job started although the port is busy")

    monkeypatch.setattr(main_job, "run_main_job", must_not_run)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "run", "--port", str(port)])
        assert result.exit_code == 2, result.output
        assert f"cannot listen on 127.0.0.1:{port}" in result.output
        assert "PORT=N" in result.output  # the fix names make run PORT=N
        # the setting is used when --port is not given
        monkeypatch.setenv("TENANTCOST_PORT", str(port))
        from tenantcost.config import get_settings

        get_settings.cache_clear()
        try:
            again = CliRunner().invoke(app, ["demo", "run"])
        finally:
            get_settings.cache_clear()
        assert again.exit_code == 2 and f"127.0.0.1:{port}" in again.output


def test_a_login_set_before_a_failed_bind_is_still_shown() -> None:
    import io
    import socket

    from rich.console import Console

    from tenantcost.errors import UserError
    from tenantcost.web.serve import serve_forever

    console = Console(file=io.StringIO(), width=200)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match="cannot listen"):
            serve_forever(
                "postgresql://unused", "127.0.0.1", port, "log in as demo / s3cret", console=console
            )
    assert "log in as demo / s3cret" in console.file.getvalue()  # type: ignore[attr-defined]


def dollars(text: str) -> str:
    """A JSON money string as people should see it: cents, half up, thousands separated."""
    from decimal import ROUND_HALF_UP, Decimal

    amount = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return ("−" if amount < 0 else "") + f"${abs(amount):,.2f}"


#: Reports that need no database, with the money columns a narrow table must keep whole.
SNAPSHOTS = [
    (["model", "mix"], ["cost", "revenue"]),
    (["model", "mix", "railway-2025-11", "--mix", "b"], ["cost", "revenue"]),
    (["model", "sensitivity", "--vary", "tier-price:PRO"], ["revenue", "cost"]),
    (["model", "cost"], ["price"]),
    (["model", "cost", "railway-2025-11"], ["price"]),
]


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize(("args", "money"), SNAPSHOTS, ids=lambda a: " ".join(a))
def test_no_database_reports_show_every_figure_in_full(
    args: list[str], money: list[str], width: int
) -> None:
    table = CliRunner(env={"COLUMNS": str(width)}).invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "…" not in table.output
    assert max(len(line) for line in table.output.splitlines()) <= width
    rows = json.loads(CliRunner().invoke(app, [*args, "--format", "json"]).output)
    cells = {cell for line in table.output.splitlines() for cell in line.split()}
    for row in rows:
        for column in money:
            if row[column] is not None:
                assert dollars(row[column]) in cells, (column, row[column], table.output)
    if width == 200:
        assert "not shown" not in table.output  # everything fits


def test_no_database_reports_round_trip_through_json_and_csv() -> None:
    import csv
    import io

    for args in (["pricebook", "list"], ["pricebook", "show", "seed-002"], ["settings"]):
        rows = json.loads(runner.invoke(app, [*args, "--format", "json"]).output)
        parsed = list(
            csv.DictReader(io.StringIO(runner.invoke(app, [*args, "--format", "csv"]).output))
        )
        assert rows and len(parsed) == len(rows)
        assert list(parsed[0]) == list(rows[0])  # same columns, same order


def test_a_typo_suggests_the_command_even_before_it_is_loaded() -> None:
    result = CliRunner().invoke(app, ["repor"])
    # the closest first ('export' is close too)
    assert result.exit_code == 2 and "Did you mean 'report'" in result.output
    result = CliRunner().invoke(app, ["outbx"])
    assert result.exit_code == 2 and "Did you mean 'outbox'?" in result.output


def test_the_collector_is_off_for_start_up_and_back_on_when_the_command_runs() -> None:
    """main() holds the cyclic garbage collector off while a command loads; the command's
    own code runs with it on (a long-running command collects as usual)."""
    code = (
        "import gc, sys\n"
        "from tenantcost import cli\n"
        "seen = []\n"
        "wrap = cli._with_gc\n"
        "def probe(callback):\n"
        "    def inside(*a, **k):\n"
        "        seen.append(('inside', gc.isenabled()))\n"
        "        return callback(*a, **k)\n"
        "    wrapped = wrap(inside)\n"
        "    def before(*a, **k):\n"
        "        seen.append(('before', gc.isenabled()))\n"
        "        return wrapped(*a, **k)\n"
        "    return before\n"
        "cli._with_gc = probe\n"
        "sys.argv = ['tenantcost', 'model', 'cost', '--format', 'json']\n"
        "from tenantcost.launch import main\n"  # the console script's entry point
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(seen, gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last == "[('before', False), ('inside', True)] True True", result.stderr
    assert json.loads(result.stdout)  # the command ran and printed its rows


def _help_via_main(args: list[str], before: str = "") -> subprocess.CompletedProcess[str]:
    code = (
        f"{before}\nimport sys\nfrom tenantcost.cli import main\n"
        f"sys.argv = ['tenantcost', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100", "TERM": "dumb"},
    )


@pytest.mark.parametrize("args", [["--help"], ["report", "--help"], ["model", "cost", "--help"]])
def test_help_skips_the_markdown_and_traceback_renderers_and_prints_the_same(
    args: list[str],
) -> None:
    light = _help_via_main(args)
    loaded = set(json.loads(light.stderr.splitlines()[-1]))
    assert "typer.rich_utils" in loaded
    assert not {"markdown_it", "pygments", "rich.pretty", "rich.syntax"} & loaded
    assert not {"rich.markdown", "rich.traceback"} & loaded  # the stand-ins are gone
    # the same help as Typer's renderer loaded the ordinary way (everything imported first)
    full = _help_via_main(args, before="import typer.rich_utils")
    assert "markdown_it" in set(json.loads(full.stderr.splitlines()[-1]))
    assert light.stdout == full.stdout and "Usage: tenantcost" in light.stdout


def test_the_stand_ins_load_the_real_classes_when_used() -> None:
    code = (
        "import sys\nfrom tenantcost.cli import import_help_renderer\n"
        "import_help_renderer()\n"
        "import typer.rich_utils as ru\n"
        "assert 'markdown_it' not in sys.modules\n"
        "import rich.markdown, rich.traceback\n"
        "assert isinstance(ru.Markdown('*x*'), rich.markdown.Markdown)\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n"
        "    tb = ru.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert isinstance(tb, rich.traceback.Traceback)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "ok"


def test_a_report_loads_the_settings_without_croniter() -> None:
    """The report schedules' cron expressions are read by croniter only when they are not the
    shipped ones (a report never needs it)."""
    loaded = all_modules_after(
        "from tenantcost.cli import load_command\n"
        "load_command('report').get_command(None, 'health')\n"
        "from tenantcost.config import load_settings\n"
        "assert load_settings().report_weekly_cron == '0 6 * * 1'"
    )
    assert "tenantcost.report.cli" in loaded and "tenantcost.config" in loaded
    assert "croniter" not in loaded


def test_the_entry_point_loads_the_cli_without_a_collection(tmp_path: Path) -> None:
    """The console script (tenantcost.launch) pauses the collector before Typer and Rich load:
    `tenantcost --version` runs without a single collection (Typer's import alone would
    trigger dozens). Bytecode is compiled first, as after a first run (compiling a module
    may collect whatever the collector's state)."""

    import tenantcost

    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(tenantcost.__file__).parent)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    code = (
        "import gc, sys\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(phase))\n"
        "sys.argv = ['tenantcost', '--version']\n"
        "from tenantcost.launch import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(len(runs), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert result.stdout.strip() == "tenantcost 0.1.0"
    assert result.stderr.strip().splitlines()[-1] == "0"
    # the same import with the collector on: it does collect (the test can fail)
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, sys\nruns = []\ngc.callbacks.append(lambda p, i: runs.append(p))\n"
            "import tenantcost.cli\nprint(len(runs))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert int(plain.stdout.strip()) > 0
