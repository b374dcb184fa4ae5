"""Render report rows for people (a Rich table that fits the terminal) or machines (JSON, CSV).

Every report command prints through :func:`emit`. What it guarantees:

- No Python repr reaches a user: UUIDs, lists, booleans, enums and times are rendered as
  text (``yes``/``no`` in tables, ``true``/``false`` in JSON).
- Numbers never in exponent form; money to the cent for people, one fixed scale per column
  for machines (:mod:`tenantcost.money`).
- Data is never Rich markup (cells, headers and titles are ``Text``), and CSV string cells
  that look like spreadsheet formulas are neutralised.
- Tables fit the terminal without cutting a figure: columns by priority with a note naming
  what was left out, short headers with a legend, 8-character ids, a vertical layout for a
  single wide record, and at most ``TABLE_CAP`` rows unless ``--top`` says otherwise.
- Empty results: one human line (on stderr for JSON/CSV); JSON prints ``[]`` and CSV its
  header row.

The ``--columns``, ``--wide`` and ``--top`` options are added to every command that takes
``--format`` by :func:`add_view_options`; they reach :func:`emit` through :data:`VIEW`.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, get_type_hints
from uuid import UUID

from tenantcost.errors import UserError
from tenantcost.money import column_scale, csv_safe, is_money_column, money_text, number_text, plain

if TYPE_CHECKING:
    import typer
    from rich.console import Console, RenderableType


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


Row = Mapping[str, Any]

#: Tables show at most this many rows unless --top says otherwise (JSON/CSV show all).
TABLE_CAP = 50
#: Ids are shortened to this many characters in tables (full in JSON and CSV).
SHORT_ID = 8


@dataclass(frozen=True)
class View:
    """How a person asked to see a table (``--columns``, ``--wide``, ``--top``)."""

    columns: tuple[str, ...] | None = None
    wide: bool = False
    top: int | None = None  # None: TABLE_CAP in tables, all rows in JSON/CSV; 0: all
    capped: bool = True  # False when the command limits rows itself (its own --top)


VIEW: ContextVar[View | None] = ContextVar("tenantcost_view", default=None)


def current_view() -> View:
    """The view options of the running command (defaults outside a command)."""
    return VIEW.get() or View()


# ----------------------------------------------------------------------------- machines


def machine_value(value: Any, scale: int | None = None) -> Any:
    """A JSON-ready value: Decimal as a plain string (``scale`` decimals), UUID and time as
    text, enums as their value, containers recursively; bool, int, str and None unchanged."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Decimal):
        return plain(value, scale)
    if isinstance(value, Enum):
        return machine_value(value.value)
    if isinstance(value, float):
        return plain(Decimal(repr(value)))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): machine_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [machine_value(v) for v in value]
    return str(value)


def to_text(value: Any, scale: int | None = None) -> str:
    """One CSV cell: Decimal plain (``scale`` decimals), time ISO 8601, None empty, booleans
    ``true``/``false``, lists joined with ``, ``; strings are neutralised by :func:`csv_cell`."""
    shown = machine_value(value, scale)
    if shown is None:
        return ""
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(shown, list):
        return ", ".join(to_text(v) for v in shown)
    if isinstance(shown, dict):
        return json.dumps(shown, ensure_ascii=False)
    return str(shown)


def csv_cell(value: Any, scale: int | None = None) -> str:
    """A CSV cell: numbers as plain decimals (never touched), text made formula-safe."""
    text = to_text(value, scale)
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return text
    return csv_safe(text)


def scales(
    rows: Sequence[Row], columns: Sequence[str], places: Mapping[str, int] | None = None
) -> dict[str, int | None]:
    """The fixed scale of each column for machine output (see ``money.column_scale``)."""
    places = places or {}
    return {c: column_scale((row.get(c) for row in rows), places.get(c)) for c in columns}


def machine_rows(
    rows: Sequence[Row],
    columns: Sequence[str] | None = None,
    places: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts, each Decimal column at one scale for every row."""
    cols = _columns(rows, columns)
    fixed = scales(rows, cols, places)
    return [{c: machine_value(row.get(c), fixed[c]) for c in cols} for row in rows]


def render_json(
    rows: Sequence[Row],
    columns: Sequence[str] | None = None,
    places: Mapping[str, int] | None = None,
) -> str:
    return json.dumps(machine_rows(rows, columns, places), indent=2, ensure_ascii=False)


def render_csv(
    rows: Sequence[Row],
    columns: Sequence[str] | None = None,
    places: Mapping[str, int] | None = None,
) -> str:
    """CSV with a header row (also when empty, given ``columns``), one scale per column and
    formula-safe text cells: ``csv_cell`` at the column's ``scales``, computed in one pass
    (text and Decimals, the common cells, without the general conversion; the FOCUS export
    writes ~35 cells a row)."""
    cols = _columns(rows, columns)
    declared = places or {}
    fixed: list[int | None] = [declared.get(c) for c in cols]
    seen: list[int] = [-1] * len(cols)
    indexed = list(enumerate(cols))
    cells: list[list[Any]] = []
    decimal, text_type, safe, cell_of, uuid = Decimal, str, csv_safe, csv_cell, UUID
    for row in rows:
        line: list[Any] = []
        add = line.append
        get = row.get
        for i, c in indexed:
            value = get(c)
            kind = type(value)
            if kind is text_type:
                add(safe(value))  # type: ignore[arg-type]
            elif value is None:
                add("")
            elif kind is decimal and value.is_finite():
                text = format(value, "f")
                dot = text.find(".")
                scale = len(text) - dot - 1 if dot >= 0 else 0
                if scale > seen[i]:
                    seen[i] = scale
                add((value, text, scale))
            elif kind is int:
                add(str(value))
            elif kind is uuid:
                add(safe(str(value)))
            elif kind is decimal:  # NaN, Infinity: counted as scale 0, printed as they are
                seen[i] = max(seen[i], 0)
                add(str(value))
            else:
                add(cell_of(value))  # a scale only ever applies to Decimals
        cells.append(line)
    want = [
        f if f is not None else (s if s >= 0 else None) for f, s in zip(fixed, seen, strict=True)
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_safe(c) for c in cols])
    finish = _finish
    for line in cells:
        writer.writerow(
            [
                cell if type(cell) is text_type else finish(cell, w)
                for cell, w in zip(line, want, strict=True)
            ]
        )
    return buffer.getvalue()


def _finish(cell: tuple[Decimal, str, int], want: int | None) -> str:
    value, text, scale = cell
    return _at_scale(value, text, scale, want)


def _at_scale(value: Decimal, text: str, scale: int, want: int | None) -> str:
    """``plain(value, want)`` from the value's own plain ``text`` (``scale`` decimals): padded
    with zeros when it has fewer decimals, rounded (``plain``) only when it has more."""
    if want is None or scale == want:
        out = text
    elif scale < want:
        out = text + ("." if scale == 0 else "") + "0" * (want - scale)
    else:
        return plain(value, want)
    return out[1:] if out.startswith("-") and value.is_zero() else out


def _columns(rows: Sequence[Row], columns: Sequence[str] | None) -> list[str]:
    return list(columns) if columns else (list(rows[0].keys()) if rows else [])


# ----------------------------------------------------------------------------- people


#: Integer columns that are labels, not quantities: no thousands separator (port 43065).
PLAIN_INT_WORDS = frozenset({"id", "port", "pid", "year", "revision", "version", "oid"})


def cell_text(column: str, value: Any, places: int | None = None) -> str:
    """One table cell for people: money as ``$1,234.57`` / ``<$0.01`` (``places`` decimals,
    default 2), other numbers with separators, ids shortened, yes/no, UTC times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return cell_text(column, value.value, places)
    if isinstance(value, Decimal):
        if is_money_column(column):
            return money_text(value, 2 if places is None else places)
        return number_text(value, places)
    if isinstance(value, int):
        return str(value) if PLAIN_INT_WORDS & set(column.split("_")) else f"{value:,}"
    if isinstance(value, float):
        return number_text(Decimal(repr(value)), places)
    if isinstance(value, UUID):
        return str(value)[:SHORT_ID]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") + ("" if value.tzinfo is None else " UTC")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell_text(column, v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell_text(str(k), v)}" for k, v in value.items())
    return str(value)


#: Long words in column names and the short forms table headers use (legend explains them).
ABBREVIATIONS = {
    "monthly": "mo",
    "subscription": "sub",
    "operational": "op",
    "efficiency": "eff",
    "optimization": "optim",
    "opportunity": "opport",
    "infrastructure": "infra",
    "percent": "%",
    "pct": "%",
    "average": "avg",
    "business": "biz",
    "category": "cat",
    "reconciled": "recon",
    "delivered": "dlvd",
    "requests": "req",
    "dashboard": "dash",
    "effective": "eff",
    "utilization": "util",
}


def short_header(column: str) -> str:
    """``monthly_subscription_revenue`` → ``mo sub revenue``; ``company_name`` → ``company``."""
    if column.endswith("_name") and column != "_name":
        column = column[: -len("_name")]
    words = [ABBREVIATIONS.get(w, w) for w in column.split("_") if w]
    return " ".join(words) or column


def _wrap_words(text: str, width: int) -> str:
    """Break a header into lines of at most ``width`` characters (never inside a word)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


@dataclass(frozen=True)
class _Col:
    name: str
    header: str
    texts: list[str]
    numeric: bool  # right-aligned
    atomic: bool  # never wrapped: figures, times, ids, yes/no
    need: int  # the narrowest this column may be without cutting a figure or a word
    full: int  # its natural width


GAP = 3  # padding and divider between two columns
TEXT_MIN = 14  # text columns wrap (never cut a figure) down to this width
WORD_MAX = 24  # a longer word in a text column may be folded (a URL, a path)


def _is_atomic(value: Any) -> bool:
    return isinstance(value, Decimal | int | float | datetime | date | time | UUID | bool)


def _prepare(rows: Sequence[Row], columns: Sequence[str], places: Mapping[str, int]) -> list[_Col]:
    out = []
    for c in columns:
        texts = [cell_text(c, row.get(c), places.get(c)) for row in rows]
        values = [row.get(c) for row in rows if row.get(c) is not None]
        numeric = bool(values) and all(
            isinstance(v, Decimal | int | float) and not isinstance(v, bool) for v in values
        )
        atomic = bool(values) and all(_is_atomic(v) for v in values)
        header = short_header(c)
        longest_header_word = max((len(w) for w in header.split()), default=1)
        widest = max((len(t) for t in texts), default=0)
        longest_word = max((len(w) for t in texts for w in t.split()), default=0)
        if atomic:
            need = max(widest, longest_header_word)
        else:
            floor = min(widest, max(TEXT_MIN, min(longest_word, WORD_MAX)))
            need = max(longest_header_word, floor)
        full = max(widest, len(header))
        out.append(_Col(c, header, texts, numeric, atomic, need, full))
    return out


#: Columns that carry a report's verdict (kept right after what the row is about).
VERDICT_WORDS = frozenset({"status", "category", "signal", "holds", "severity"})


def _priority(cols: Sequence[_Col], priority: Sequence[str]) -> list[_Col]:
    """Which columns to keep first: those the report names in ``priority``, then the first
    column (what the row is about), verdicts (status, category, signal), money, other
    figures, and the rest, each in report order."""
    named = [c for name in priority for c in cols if c.name == name]
    rest = [c for c in cols if c not in named]
    if rest and not named:
        named, rest = rest[:1], rest[1:]
        if _is_id(named[0].name):  # an id says little to people: keep a name beside it
            named += [c for c in rest if not c.numeric and not _is_id(c.name)][:1]
            rest = [c for c in rest if c not in named]
    verdicts = [c for c in rest if VERDICT_WORDS & set(c.name.split("_"))]
    rest = [c for c in rest if c not in verdicts]
    money = [c for c in rest if c.numeric and is_money_column(c.name)]
    figures = [c for c in rest if c.numeric and c not in money]
    return [*named, *verdicts, *money, *figures, *[c for c in rest if not c.numeric]]


def _is_id(column: str) -> bool:
    return column == "id" or column.endswith("_id")


def _choose(cols: Sequence[_Col], width: int, priority: Sequence[str]) -> list[_Col]:
    chosen: list[_Col] = []
    used = -GAP
    for col in _priority(cols, priority):
        if chosen and used + GAP + col.need > width:
            break  # never show a lesser column in place of a more telling one
        chosen.append(col)
        used += GAP + col.need
    return [c for c in cols if c in chosen]  # the report's order


def _widths(cols: Sequence[_Col], width: int) -> list[int]:
    """Each column's width: what it needs, and the room left given to text columns, in
    order, up to their natural width."""
    widths = [c.need for c in cols]
    spare = width - sum(widths) - GAP * (len(cols) - 1)
    for i, col in enumerate(cols):
        if spare <= 0:
            break
        extra = min(spare, col.full - widths[i])
        if extra > 0:
            widths[i] += extra
            spare -= extra
    return widths


def _selected_columns(columns: Sequence[str], view: View) -> list[str]:
    if view.columns is None:
        return list(columns)
    unknown = [c for c in view.columns if c not in columns]
    if unknown:
        raise UserError(
            f"--columns: no column named {', '.join(unknown)} in this report",
            f"choose from: {', '.join(columns)}",
        )
    return list(view.columns)


def _title(title: str) -> Any:
    from rich.text import Text

    return Text(title, style="bold") if title else None


def _grid(cols: Sequence[_Col], widths: Sequence[int], title: str) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=_title(title), box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False
    )
    for col, width in zip(cols, widths, strict=True):
        table.add_column(
            Text(_wrap_words(col.header, width)),
            justify="right" if col.numeric else "left",
            no_wrap=col.atomic,
            width=width,
            overflow="fold",
        )
    for i in range(len(cols[0].texts) if cols else 0):
        table.add_row(*(Text(col.texts[i]) for col in cols))
    return table


def _record(cols: Sequence[_Col], title: str) -> Any:
    """One record as ``field  value`` lines (for a single row too wide for the terminal)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_title(title), box=box.SIMPLE, show_header=False, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for col in cols:
        table.add_row(Text(col.name), Text(col.texts[0]))
    return table


def table_renderables(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str = "",
    places: Mapping[str, int] | None = None,
    priority: Sequence[str] = (),
    width: int = 80,
    view: View | None = None,
) -> tuple[list[RenderableType], int | None]:
    """The table (or record) and its notes for a terminal ``width`` columns wide; with the
    width to print at (None: the terminal's; wider for ``--wide``)."""
    from rich.text import Text

    view = view or current_view()
    columns = _selected_columns(columns, view)
    total = len(rows)
    notes: list[str] = []
    if view.top is None and view.capped and total > TABLE_CAP:
        rows = rows[:TABLE_CAP]
        notes.append(f"showing {TABLE_CAP} of {total} rows; --top 0 for all, --top N for N")
    elif view.top and total > view.top:
        rows = rows[: view.top]
        notes.append(f"showing {view.top} of {total} rows")
    cols = _prepare(rows, columns, places or {})
    print_width: int | None = None
    if view.wide:
        shown = list(cols)
        widths = [c.full for c in cols]
        natural = sum(widths) + GAP * (len(cols) - 1)
        print_width = natural if natural > width else None
        body: Any = _grid(shown, widths, title)
    else:
        shown = list(cols) if view.columns is not None else _choose(cols, width, priority)
        if len(rows) == 1 and len(shown) < len(cols):
            shown = list(cols)
            body = _record(shown, title)
        else:
            needed = sum(c.need for c in shown) + GAP * (len(shown) - 1)
            if needed > width:  # asked-for columns that cannot be narrower without a cut
                print_width = needed
            body = _grid(shown, _widths(shown, max(width, needed)), title)
    left_out = [c.name for c in cols if c not in shown]
    if left_out:
        notes.append(
            f"not shown (terminal {width} columns wide): {', '.join(left_out)}; "
            "see them with --wide, --columns a,b,c or --format csv"
        )
    out: list[RenderableType] = [body]
    if not _is_record(body):
        legend = [f"{c.header} = {c.name}" for c in shown if c.header != c.name.replace("_", " ")]
        if legend:
            out.append(Text("legend: " + "; ".join(legend), style="dim"))
    out.extend(Text(n, style="dim") for n in notes)
    return out, print_width


def _is_record(body: Any) -> bool:
    return not getattr(body, "show_header", True)


def emit(
    rows: Sequence[Row],
    fmt: OutputFormat = OutputFormat.table,
    *,
    columns: Sequence[str] | None = None,
    title: str = "",
    places: Mapping[str, int] | None = None,
    priority: Sequence[str] = (),
    empty: str | None = None,
    console: Console | None = None,
) -> None:
    """Print rows: a table that fits the terminal for people; JSON or CSV on stdout, unstyled,
    for machines. ``places`` gives a Decimal column's decimals (money defaults to cents in
    tables); ``columns`` the columns in order (needed for an empty CSV's header);
    ``priority`` the columns a narrow table keeps first; ``empty`` the line printed when
    there are no rows (default: "no rows: <title>")."""
    view = current_view()
    cols = _columns(rows, columns)
    if fmt is not OutputFormat.table:
        cols = _selected_columns(cols, view)
        if view.top:
            rows = rows[: view.top]
        if not rows:
            print(empty or _empty_line(title), file=sys.stderr)
        if fmt is OutputFormat.json:
            print(render_json(rows, cols, places))
        else:
            print(render_csv(rows, cols, places), end="")
        return
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    if not rows:
        console.print(Text(empty or _empty_line(title)))
        return
    parts, print_width = table_renderables(
        rows, cols, title=title, places=places, priority=priority, width=console.width, view=view
    )
    terminal = console.width
    if print_width:  # --wide: wider than the terminal, on purpose
        console.width = print_width
    try:
        for part in parts:
            console.print(part)
    finally:
        console.width = terminal


def _empty_line(title: str) -> str:
    return f"no rows: {title}" if title else "no rows"


# ----------------------------------------------------------------------------- options

COLUMNS_HELP = "Only these columns, in this order (comma-separated names as in --format csv)."
WIDE_HELP = "Every column at full width, even wider than the terminal."
TOP_HELP = f"At most N rows (tables show {TABLE_CAP} by default; 0: all)."


def parse_columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise UserError("--columns is empty", "e.g. --columns company_name,monthly_profit")
    return names


def with_view_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--columns``, ``--wide`` and (unless the command has its own) ``--top`` to a
    report command; their values reach :func:`emit` through :data:`VIEW`."""
    import typer

    if getattr(func, "__tenantcost_view__", False):
        return func
    signature = inspect.signature(func)
    hints = get_type_hints(func)
    own_top = "top" in signature.parameters
    extra = [
        inspect.Parameter(
            "view_columns",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--columns", metavar="NAMES", help=COLUMNS_HELP),
            annotation=str | None,
        ),
        inspect.Parameter(
            "view_wide",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(False, "--wide", help=WIDE_HELP),
            annotation=bool,
        ),
    ]
    if not own_top:
        extra.append(
            inspect.Parameter(
                "view_top",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, "--top", min=0, metavar="N", help=TOP_HELP),
                annotation=int | None,
            )
        )

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        view_columns: str | None = None,
        view_wide: bool = False,
        view_top: int | None = None,
        **kwargs: Any,
    ) -> Any:
        view = View(parse_columns(view_columns), view_wide, view_top, capped=not own_top)
        token = VIEW.set(view)
        try:
            return func(*args, **kwargs)
        finally:
            VIEW.reset(token)

    params = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    wrapper.__signature__ = signature.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **hints,
        **{p.name: p.annotation for p in extra},
    }
    wrapper.__tenantcost_view__ = True  # type: ignore[attr-defined]
    return wrapper


def _is_report(func: Callable[..., Any]) -> bool:
    try:
        hints = get_type_hints(func)
    except Exception:  # an unresolvable hint: not a report command
        return False
    return any(hint is OutputFormat for hint in hints.values())


def add_view_options(app: typer.Typer) -> None:
    """Give every command under ``app`` that takes ``--format`` the view options."""
    for info in app.registered_commands:
        if info.callback is not None and _is_report(info.callback):
            info.callback = with_view_options(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            add_view_options(group.typer_instance)
