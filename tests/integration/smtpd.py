"""A local SMTP server for the report tests: aiosmtpd on 127.0.0.1 (ephemeral port) that
requires STARTTLS (a self-signed certificate from trustme) and AUTH, and keeps every message."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

USER, PASSWORD = "reports", "smtp-secret-password"


@dataclass
class Mailbox:
    port: int
    ca_file: Path
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_sessions: int = 0

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if session.ssl is not None:
            self.box.tls_sessions += 1
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.box.messages.append(parsed)
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(directory: Path, port: int | None = None) -> Iterator[Mailbox]:
    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = directory / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    box = Mailbox(port or _free_port(), ca_file)

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            box.logins.append(USER)
        return AuthResult(success=ok)

    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        ready_timeout=10,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def smtp_env(box: Mailbox) -> dict[str, str]:
    """The settings that send the reports to this server."""
    return {
        "TENANTCOST_SMTP_HOST": "127.0.0.1",
        "TENANTCOST_SMTP_PORT": str(box.port),
        "TENANTCOST_SMTP_STARTTLS": "true",
        "TENANTCOST_SMTP_CA_FILE": str(box.ca_file),
        "TENANTCOST_SMTP_USERNAME": USER,
        "TENANTCOST_SMTP_PASSWORD": PASSWORD,
        "TENANTCOST_SMTP_TIMEOUT": "10",
        "TENANTCOST_REPORT_EMAIL_TO": "ceo@example.test, cfo@example.test",
        "TENANTCOST_REPORT_EMAIL_FROM": "reports@example.test",
    }
