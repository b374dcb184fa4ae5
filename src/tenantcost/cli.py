"""The ``tenantcost`` command: one entry point, one sub-command group per responsibility.

Sub-commands are imported only when they run (or when their own ``--help`` is asked for):
``tenantcost --version`` and ``tenantcost --help`` load no database driver, web framework
or chart library. :data:`COMMANDS` names where each lives and its one-line help for the
root ``--help`` (a test checks that line against the command's own help).
"""

from __future__ import annotations

import functools
import gc
import importlib
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from tenantcost import __version__
from tenantcost.errors import UserError

#: name → (module:attribute, one-line help shown by ``tenantcost --help``).
COMMANDS: dict[str, tuple[str, str]] = {
    "settings": (
        "tenantcost.settings_cli:settings_command",
        "List every setting with its environment variable, current value and meaning.",
    ),
    "db": (
        "tenantcost.db.cli:app",
        "Database: embedded server, migrations (upgrade/downgrade/sql), verification.",
    ),
    "costs": (
        "tenantcost.costs.cli:app",
        "Cost inputs: the audited IP cost constant, per-record overrides, Hostwinds sync.",
    ),
    "pricebook": (
        "tenantcost.pricing.cli:app",
        "Price books: versioned provider rates (per-second vCPU/RAM, storage, egress, plans).",
    ),
    "model": (
        "tenantcost.model.cli:app",
        "What-if pricing and capacity models over price books and scenario files (no "
        "database needed).",
    ),
    "report": (
        "tenantcost.report.cli:app",
        "Executive reports over the one cost model: health, optimization, cost by plan, cost "
        "per email, shared cost, tenant costs, cost drivers, attribution quality.",
    ),
    "tenants": (
        "tenantcost.telemetry.cli:tenants_app",
        "How each tenant shows up in PostgreSQL: its own database, role or schema, or rows in "
        "shared tables with a tenant_id column.",
    ),
    "collect": (
        "tenantcost.telemetry.cli:collect_command",
        "Collect usage per tenant: pg_stat_statements deltas, pg_stat_database and "
        "pg_stat_activity samples, backend CPU samples, storage sizes and host CPU/memory.",
    ),
    "attribute": (
        "tenantcost.attribution.cli:attribute_command",
        "Price a month's usage and write its ledger and figures: every tenant's VPS, IPs, "
        "shared shares, usage, add-ons and overhead, plus the lines no tenant carries.",
    ),
    "tiers": (
        "tenantcost.tiers.cli:app",
        "Tiers: ceilings, hourly evaluation (upgrade / soft / hard throttle signals), alerts.",
    ),
    "serve": (
        "tenantcost.web.serve:serve_command",
        "Serve the internal dashboard and JSON API (log in with a `tenantcost users` account).",
    ),
    "users": (
        "tenantcost.web.users:app",
        "Dashboard users and roles: executive and analyst read, dba also changes cost settings.",
    ),
    "demo": (
        "tenantcost.demo.cli:app",
        "The demo fleet, and the main job that shows it.",
    ),
    "export": (
        "tenantcost.analytics.cli:app",
        "Export tenantcost's figures and signals to other systems (PostHog analytics events).",
    ),
    "outbox": (
        "tenantcost.outbox.cli:app",
        "The outbox: tier decisions and alerts (and later other events) waiting for delivery "
        "to a sink such as the webhook, retried with backoff.",
    ),
}

#: Commands other modules add to a group, loaded only when they run (or their own ``--help``
#: is asked for): group → name → (module:attribute, one-line help for the group's --help).
EXTRA_COMMANDS: dict[str, dict[str, tuple[str, str]]] = {
    "report": {
        "send": (
            "tenantcost.web.report_send:send_command",
            "Render the executive report (HTML, chart, PDF) and send it now.",
        ),
        "schedule": (
            "tenantcost.execreport.cli:schedule_command",
            "The report schedule (cron, UTC): each kind's next times, the period each will "
            "cover, the last scheduled report and how many are due now, and where they are "
            "delivered.",
        ),
        "sent": (
            "tenantcost.execreport.cli:sent_command",
            "Reports generated, newest period first: scheduled or by hand, late or on time, "
            "the month whose figures they show (provisional or final), and each delivery's "
            "status.",
        ),
        "tenant-costs": (
            "tenantcost.attribution.cli:tenant_costs_command",
            "Per-tenant cost by driver (compute, memory, storage, network, VPS and IPs, add-ons, "
            "overhead), its share of the month's total, revenue, profit and margin; then the "
            "lines no tenant carries (unattributed, background, idle, control plane, "
            "unallocated shared cost).",
        ),
        "cost-drivers": (
            "tenantcost.attribution.cli:cost_drivers_command",
            "Cost drivers of a month as in seed 002's dashboard: each driver's amount and share "
            "of the month's total, tenants' drivers first, then what no tenant carries.",
        ),
        "quality": (
            "tenantcost.attribution.cli:quality_command",
            "Attribution quality of a month: its basis (list prices, measured host, invoice), "
            "the share of usage carried by tenants, unattributed, background and idle, and the "
            "list-price usage's error against the imported invoice.",
        ),
    }
}


def _attribute(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def load_command(name: str) -> Any:
    """Import a sub-command and turn it into a click command (view options added)."""
    target = _attribute(COMMANDS[name][0])
    if not isinstance(target, typer.Typer):
        return load_function(name, target)
    if name in EXTRA_COMMANDS:
        target.info.cls = ExtrasGroup
    target.rich_markup_mode = "rich"
    return _click_command(name, target)


def load_function(name: str, function: Any) -> Any:
    """One command function as a click command, with the view options and tidy help."""
    sub = typer.Typer(rich_markup_mode="rich")
    sub.command(name)(function)
    return _click_command(name, sub)


COMPLETION_OPTIONS = frozenset({"install_completion", "show_completion"})


def _click_command(name: str, target: typer.Typer) -> Any:
    """``target`` as the click command ``name``: view options, tidy help, and the collector
    back on when it runs."""
    from tenantcost.output import add_view_options

    add_view_options(target)
    command = typer.main.get_command(target)
    command.name = name
    # Shell completion is the root command's (`tenantcost --install-completion`); Typer adds
    # the two options to every app it converts, and coercing their defaults loads its
    # pydantic adapters before `--help` is even read.
    command.params = [p for p in command.params if p.name not in COMPLETION_OPTIONS]
    tidy_help(command)
    collect_garbage_when_run(command)
    return command


#: True while :func:`main` holds the cyclic garbage collector off (start-up).
_startup_gc_off = False


def collect_garbage_when_run(command: Any) -> None:
    """Turn the cyclic garbage collector back on when a command's own code starts.

    :func:`main` turns it off for start-up: importing a command allocates tens of thousands of
    objects that live as long as the process (modules, classes, pydantic and Typer schemas),
    and the collector would only traverse them again and again (~8 % of a report's CPU). When
    a command's callback starts, what exists is frozen (never traversed again) and collection
    resumes, so a long-running command (``serve``, ``collect --every``) collects as usual."""
    for sub in getattr(command, "commands", {}).values():
        collect_garbage_when_run(sub)
    if command.callback is not None and not hasattr(command, "commands"):
        command.callback = _with_gc(command.callback)


def _with_gc(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        global _startup_gc_off
        if _startup_gc_off:
            _startup_gc_off = False
            gc.freeze()
            gc.enable()
        return callback(*args, **kwargs)

    return run


class LazyGroup(TyperGroup):
    """A group whose commands in :meth:`lazy` load on demand; its own ``--help`` lists them by
    their one-line help without importing them."""

    listing = False

    def lazy(self) -> dict[str, tuple[str, str]]:
        """name → (module:attribute, one-line help)."""
        return {}

    def load(self, name: str) -> Any:
        raise NotImplementedError

    def list_commands(self, ctx: Any) -> list[str]:
        own = list(super().list_commands(ctx))
        return [*own, *(n for n in self.lazy() if n not in own)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in self.lazy():
            return None
        if self.listing:  # the group's --help needs the one-line help, not the command
            return TyperCommand(name=cmd_name, help=self.lazy()[cmd_name][1])
        command = self.load(cmd_name)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        tidy_help(self, recursive=False)
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


class ExtrasGroup(LazyGroup):
    """A command group with the commands :data:`EXTRA_COMMANDS` adds to it from elsewhere
    (``report tenant-costs`` lives with the attribution), loaded only when they run."""

    def lazy(self) -> dict[str, tuple[str, str]]:
        return EXTRA_COMMANDS.get(self.name or "", {})

    def load(self, name: str) -> Any:
        return load_function(name, _attribute(self.lazy()[name][0]))


def reflow(text: str) -> str:
    """A docstring as help: paragraphs joined into single lines (the terminal wraps them),
    list items (``-``, ``•``, ``1.``) kept on their own lines, ``\\b`` blocks untouched."""
    import inspect
    import re

    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        if paragraph.startswith("\b"):
            paragraphs.append(paragraph)
            continue
        lines: list[str] = []
        for line in paragraph.splitlines():
            stripped = line.strip()
            if lines and not re.match(r"(?:[-•*]|\d+[.)])\s", stripped):
                lines[-1] += " " + stripped
            else:
                lines.append(stripped)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def tidy_help(command: Any, *, recursive: bool = True) -> None:
    """Help without hard-wrapped docstrings and without ``<bool>``-style type labels: flags
    show no value, choices show ``a|b|c``, other values their type in capitals."""
    if command.help:
        command.help = reflow(command.help)
    help_option = command.get_help_option(SimpleNamespace(help_option_names=["--help"]))
    for param in [*command.params, help_option]:
        kind = getattr(param, "param_type_name", "")
        if kind == "argument":
            label = _metavar(param)  # the type column reads TEXT, not <str>
            param.display_type_rich = lambda ctx, label=label: label
            if param.metavar is None:
                param.metavar = param.name.upper()
        if kind != "option" or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        else:
            param.metavar = _metavar(param)
    if recursive:
        for sub in getattr(command, "commands", {}).values():
            tidy_help(sub)


#: How a value's type reads in help (instead of ``<str>``, ``<int>``, ``<float>``).
TYPE_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}


def _metavar(param: Any) -> str:
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    bare = str(param.bare_type())
    return TYPE_LABELS.get(bare, bare.upper())


class TenantcostGroup(LazyGroup):
    """Root command group: sub-commands load on demand; a UserError anywhere below becomes
    one message and exit code 2."""

    def lazy(self) -> dict[str, tuple[str, str]]:
        return COMMANDS

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def load(self, name: str) -> Any:
        return load_command(name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As Typer's, but typos are matched against every command, loaded or not."""
        try:
            return self._click_resolve_command(ctx, args)
        except Exception as exc:
            message = getattr(exc, "message", None)
            if message and args and message.startswith("No such command"):
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    exc.message = f"{message.rstrip('.')}. Did you mean {names}?"  # type: ignore[attr-defined]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            report_user_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            known = _database_error(exc)
            if known is None:
                raise
            report_user_error(known)
            raise typer.Exit(UserError.exit_code) from None


def _database_error(exc: Exception) -> UserError | None:
    """Database errors a person can act on: a missing table, column or function (a database
    left at an older revision than this tenantcost: run `db upgrade`),
    or a value from the command line the database cannot take (NUL bytes, out of range, not
    a valid uuid or date: the input's fault). psycopg is only looked at when loaded."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    missing = (
        psycopg.errors.UndefinedTable,
        psycopg.errors.UndefinedColumn,
        psycopg.errors.UndefinedFunction,
    )
    if isinstance(exc, missing):
        return UserError(
            f"the database lacks part of tenantcost's schema: {exc.diag.message_primary}",
            "run `tenantcost db upgrade` (see `tenantcost db current`)",
        )
    if isinstance(exc, psycopg.DataError):
        detail = exc.diag.message_primary or str(exc).strip().splitlines()[0]
        return UserError(
            f"the database refused a value given on the command line: {detail}",
            "check the arguments (see the command's --help)",
        )
    return None


def report_user_error(exc: UserError) -> None:
    from rich.console import Console
    from rich.text import Text

    err = Console(stderr=True)
    err.print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False)
    if exc.hint:
        err.print(Text.assemble("  ", ("fix:", "bold"), " ", exc.hint), highlight=False)


app = typer.Typer(
    name="tenantcost",
    cls=TenantcostGroup,
    help=(
        "Per-tenant cost, revenue and margin for a multi-tenant SaaS on PostgreSQL. "
        "Internal tooling: figures are approximations for Finance and executives, never billing."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        print(f"tenantcost {__version__}")
        raise typer.Exit()


@app.callback(cls=TenantcostGroup)
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Per-tenant cost, revenue and margin."""


class _Deferred(type):
    """A stand-in class that imports its real class on first use (a call or an attribute)."""

    _home: str

    def _real(cls) -> Any:
        return getattr(importlib.import_module(cls._home), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


#: Modules typer.rich_utils imports at load time for what help in "rich" markup mode never
#: uses: Markdown (markup mode "markdown": markdown-it and Pygments) and Traceback (pretty
#: exceptions, which the app turns off; rich.pretty, attrs). About a third of ``--help``.
HELP_UNUSED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def import_help_renderer() -> None:
    """Import Typer's Rich help renderer without the modules in :data:`HELP_UNUSED`: while it
    loads they are stand-ins whose classes import the real ones on first use; afterwards the
    stand-ins leave ``sys.modules``, so any later import gets the real modules. The help
    printed is the same (a test compares it)."""
    if "typer.rich_utils" in sys.modules:
        return
    from types import ModuleType

    placed: dict[str, ModuleType] = {}
    for name, attribute in HELP_UNUSED.items():
        if name not in sys.modules:
            module = ModuleType(name, "stand-in while typer.rich_utils loads")
            setattr(module, attribute, _Deferred(attribute, (), {"_home": name}))
            placed[name] = sys.modules[name] = module
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for name, module in placed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def main(*, collector_paused: bool = False) -> None:
    """Run the CLI; a UserError becomes one message on stderr and exit code 2. The garbage
    collector is off until the command's own code starts (see :func:`collect_garbage_when_run`);
    ``collector_paused``: the caller paused it for this (``tenantcost.launch``)."""
    global _startup_gc_off
    if collector_paused or gc.isenabled():
        gc.disable()
        _startup_gc_off = True
    if len(sys.argv) < 2 or "--help" in sys.argv[1:]:
        import_help_renderer()
    try:
        app()
    except UserError as exc:  # raised while reading settings, before any command runs
        report_user_error(exc)
        sys.exit(exc.exit_code)
