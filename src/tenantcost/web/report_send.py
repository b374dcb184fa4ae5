"""``tenantcost report send``: the executive report (``tenantcost.execreport``) sent now —
to a file or a webhook given on the command line, or through the configured channels (email,
report webhook, directory) like a scheduled report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tenantcost.db.connect import connect, redact
from tenantcost.errors import UserError
from tenantcost.execreport.schedule import Kind, parse_period, period_before
from tenantcost.output import OutputFormat, emit


def post_webhook(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise UserError(
            f"cannot deliver the report to {redact(url)}: {redact(str(exc))}",
            "check the --webhook URL",
        ) from None
    if response.status_code >= 400:
        raise UserError(
            f"the webhook {redact(url)} answered HTTP {response.status_code}",
            "check the URL and what the receiver expects",
        )
    return response.status_code


KIND_OPTION = typer.Option(
    None, "--kind", help="daily, weekly or monthly: which report (and its comparison window)."
)


def send_command(
    kind: Kind | None = KIND_OPTION,
    period: str | None = typer.Option(
        None,
        "--period",
        help="The period to report: a day (2026-11-30), an ISO week (2026-W48) or a month "
        "(2026-11), by --kind; default the last whole one. (daily/weekly/monthly here is the "
        "older spelling of --kind.)",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the report to this file (.pdf: the PDF, else the HTML)."
    ),
    webhook: str | None = typer.Option(
        None, "--webhook", help="POST {period, generated_at, summary, html} as JSON to this URL."
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        help="Email it now to these comma-separated addresses (TENANTCOST_SMTP_*), instead of "
        "the configured channels.",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
) -> None:
    """Render the executive report (HTML, chart, PDF) and send it now.

    With --out or --webhook: to that file or URL only. Otherwise it is recorded like a
    scheduled report and queued for every configured channel (email, report webhook,
    directory; --to: email to those addresses), then delivered at once; a delivery that
    fails stays in the outbox and is retried by `serve` / `collect --every` / `outbox drain`.
    """
    if period in {k.value for k in Kind}:  # `--period weekly`: the older spelling
        if kind is not None and kind.value != period:
            raise UserError(f"--kind {kind.value} and --period {period} disagree")
        kind, period = Kind(period), None
    chosen = kind or Kind.daily
    window = parse_period(chosen, period) if period else period_before(chosen, datetime.now(UTC))
    if out is not None and webhook is not None:
        raise UserError("give exactly one of --out FILE.html or --webhook URL, not both")
    if out is not None or webhook is not None:
        _send_direct(window, out, webhook)
        return
    _send_channels(window, to, fmt)


def _send_direct(window: Any, out: Path | None, webhook: str | None) -> None:
    from tenantcost.execreport.content import Rendered, report_values
    from tenantcost.execreport.content import summary as report_summary

    with connect() as conn:
        values = report_values(conn, window)
    pdf = out is not None and out.suffix.lower() == ".pdf"
    rendered = Rendered(values, pdf=pdf)
    err = Console(stderr=True)
    what = f"{window.kind.value} executive report {window.label}"
    if out is not None:
        try:
            if rendered.pdf is not None:
                out.write_bytes(rendered.pdf)
            else:
                out.write_text(rendered.html, encoding="utf-8")
        except OSError as exc:
            raise UserError(
                f"cannot write {out}: {exc.strerror}", "choose a writable path"
            ) from None
        err.print(f"wrote the {what} to {out}", markup=False)
        return
    assert webhook is not None
    payload = {
        "period": window.kind.value,
        "label": window.label,
        "generated_at": values["generated_at"].isoformat(),
        "summary": report_summary(values),
        "html": rendered.html,
    }
    status = post_webhook(webhook, json.loads(json.dumps(payload)))
    err.print(f"sent the {what} to {redact(webhook)} (HTTP {status})", markup=False)


def _send_channels(window: Any, to: str | None, fmt: OutputFormat) -> None:
    from tenantcost.config import get_settings
    from tenantcost.execreport.run import NO_CHANNEL_HINT, channels, send_now, split_addresses

    settings = get_settings()
    recipients = split_addresses(to) if to else None
    if to is not None and not recipients:
        raise UserError("--to has no address", "give addresses separated by commas")
    if not channels(settings, recipients):
        raise UserError(
            "nowhere to send it: give exactly one of --out FILE.html or --webhook URL, or --to "
            "ADDRESSES",
            "or configure a channel: " + NO_CHANNEL_HINT,
        )
    with connect(autocommit=True) as conn:
        shown = send_now(conn, settings, window, to=recipients, requested_by="cli")
    columns = ("kind", "period", "channel", "target", "status", "updated_at")
    emit(shown, fmt, columns=columns, title=f"{window.kind.value} report {window.label}")
    if any(r["status"] != "delivered" for r in shown):
        raise typer.Exit(1)
