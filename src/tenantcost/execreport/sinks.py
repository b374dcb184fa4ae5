"""The report deliveries as outbox sinks: ``report_email``, ``report_webhook``, ``report_dir``.

A generated report is queued once per configured channel in the transaction that records
the run (:mod:`tenantcost.execreport.run`); the outbox drain hands each to its sink here, so a
failing SMTP server or webhook is retried with backoff and never stops the pipeline. Each
outcome is written on the delivery's row (``report sent``, the dashboard's Reports page).
"""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from tenantcost.config import Settings
from tenantcost.db.connect import Connection
from tenantcost.errors import UserError
from tenantcost.execreport.content import CHART_CID, sql
from tenantcost.outbox.sinks import DeliveryFailed, OutboxEvent, Sink

EMAIL, WEBHOOK, DIRECTORY = "report_email", "report_webhook", "report_dir"
CHANNEL_SINKS = {"email": EMAIL, "webhook": WEBHOOK, "directory": DIRECTORY}


def record_delivery(conn: Connection, event: OutboxEvent, error: str | None, last: bool) -> None:
    """The outcome on the report's delivery row, in the drain's transaction."""
    if error is None:
        status = "delivered"
    else:
        status = (f"failed: {error}" if last else f"retrying: {error}")[:300]
    conn.execute(sql("delivery_status"), {"dedupe_key": event.dedupe_key, "status": status})


# ----------------------------------------------------------------------------- email


def email_message(payload: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """Plain text, the HTML with the chart inline (Content-ID), and the PDF attached."""
    message = EmailMessage()
    message["Subject"] = payload["subject"]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(domain="tenantcost.invalid")
    message["X-Tenantcost-Event-Id"] = str(payload.get("event_id", ""))
    message.set_content(payload["text"])
    message.add_alternative(payload["email_html"], subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        base64.b64decode(payload["chart_png_base64"]),
        maintype="image",
        subtype="png",
        cid=f"<{CHART_CID}>",
        filename="cost-drivers.png",
    )
    if payload.get("pdf_base64"):
        message.add_attachment(
            base64.b64decode(payload["pdf_base64"]),
            maintype="application",
            subtype="pdf",
            filename=f"{payload['name']}.pdf",
        )
    return message


def send_email(settings: Settings, message: EmailMessage) -> None:
    """One SMTP conversation: STARTTLS (verified) unless turned off, AUTH when a user is
    set. DeliveryFailed on any failure; the password never appears in a message."""
    assert settings.smtp_host is not None
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
        ) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                smtp.ehlo()
            if settings.smtp_username:
                password = settings.smtp_password
                smtp.login(settings.smtp_username, password.get_secret_value() if password else "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise DeliveryFailed(
            f"cannot reach SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}", sink_down=True
        ) from None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def email_sink(settings: Settings) -> Sink | None:
    if not settings.smtp_host:
        return None

    def deliver(event: OutboxEvent) -> None:
        payload = dict(event.payload)
        recipients = list(payload.get("to") or [])
        if not recipients:
            raise DeliveryFailed("no recipients (TENANTCOST_REPORT_EMAIL_TO or --to)")
        payload["event_id"] = event.dedupe_key
        send_email(settings, email_message(payload, settings.report_email_from, recipients))

    return Sink(EMAIL, deliver, max_attempts=settings.webhook_retries, on_result=record_delivery)


# ----------------------------------------------------------------------------- webhook


def webhook_body(payload: dict[str, Any], event_id: str, fmt: str) -> dict[str, Any]:
    """What the report webhook POSTs: Slack-compatible ``{text}``, or the report as JSON."""
    if fmt == "slack":
        return {"text": payload["text"]}
    keys = ("type", "kind", "period", "period_start", "period_end", "late", "generated_at")
    body = {k: payload[k] for k in keys}
    return {
        **body,
        "event_id": event_id,
        "summary": payload["summary"],
        "html": payload["html"],
        "pdf_base64": payload.get("pdf_base64"),
    }


def webhook_sink(settings: Settings) -> Sink | None:
    if not settings.report_webhook_url:
        return None
    if settings.report_webhook_secret is None:
        raise UserError(
            "TENANTCOST_REPORT_WEBHOOK_URL is set without a secret",
            "set TENANTCOST_REPORT_WEBHOOK_SECRET",
        )
    from tenantcost.tiers.webhook import post_once

    url = settings.report_webhook_url
    secret = settings.report_webhook_secret.get_secret_value()
    fmt = settings.report_webhook_format

    def deliver(event: OutboxEvent) -> None:
        body = webhook_body(dict(event.payload), event.dedupe_key, fmt)
        post_once(url, secret, replace(event, payload=body), timeout=settings.webhook_timeout)

    return Sink(WEBHOOK, deliver, max_attempts=settings.webhook_retries, on_result=record_delivery)


# ----------------------------------------------------------------------------- directory


def write_files(directory: Path, payload: dict[str, Any]) -> list[Path]:
    """KIND-PERIOD.html and .pdf, each written to a temporary name and renamed (a reader
    never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = [(f"{payload['name']}.html", payload["html"].encode())]
    if payload.get("pdf_base64"):
        files.append((f"{payload['name']}.pdf", base64.b64decode(payload["pdf_base64"])))
    written = []
    for name, content in files:
        target = directory / name
        temporary = directory / f".{name}.{os.getpid()}.tmp"
        temporary.write_bytes(content)
        os.replace(temporary, target)
        written.append(target)
    return written


def directory_sink(settings: Settings) -> Sink | None:
    if settings.report_dir is None:
        return None
    directory = settings.report_dir

    def deliver(event: OutboxEvent) -> None:
        try:
            write_files(directory, dict(event.payload))
        except OSError as exc:
            raise DeliveryFailed(f"cannot write to {directory}: {exc.strerror}") from None

    return Sink(
        DIRECTORY, deliver, max_attempts=settings.webhook_retries, on_result=record_delivery
    )
