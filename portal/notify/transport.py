"""Sending mail: SMTP when ``PORTAL_SMTP_URL`` is set, the console otherwise.

Messages are built with the standard library's EmailMessage under the SMTP policy,
which refuses CR/LF in headers; names and subjects are flattened to one line first.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from portal.notify.text import one_line

log = logging.getLogger("portal.notify.transport")


def build(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    sender_name: str = "",
    message_id: str = "",
    reply_to: str = "",
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A plain-text mail; ``message_id`` and ``reply_to`` (a ticket mail's recorded
    Message-ID and signed reply address, ``portal.notify.addresses``) and other
    ``headers`` when given."""
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((one_line(sender_name), sender)) if sender_name else sender
    message["To"] = one_line(to, 254)
    message["Subject"] = one_line(subject)
    if message_id:
        message["Message-ID"] = one_line(message_id, 250)
    if reply_to:
        message["Reply-To"] = one_line(reply_to, 254)
    for name, value in (headers or {}).items():
        message[name] = one_line(value, 900)
    message.set_content(body)
    return message


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class ConsoleMailer:
    """Development: print mail instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        log.warning("%s", console_text(message))


CONSOLE_START = "----- mail (console: PORTAL_SMTP_URL is not set) " + "-" * 20
CONSOLE_END = "----- end of mail " + "-" * 52


def console_text(message: EmailMessage) -> str:
    """A mail as a person reads it in a terminal: the headers and the text decoded (UTF-8,
    no quoted-printable, links whole on their line) between two separator lines."""
    lines = [CONSOLE_START]
    for name in ("From", "To", "Reply-To", "Subject"):
        if message[name] is not None:
            lines.append(f"{name}: {message[name]}")
    part = message.get_body(preferencelist=("plain",))
    text = str(part.get_content()) if part is not None else ""
    lines += ["", text.rstrip("\n"), CONSOLE_END]
    return "\n".join(lines)


class SmtpMailer:
    """``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://…`` (implicit TLS)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("PORTAL_SMTP_URL must start with smtp:// or smtps://")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def mailer_for(smtp_url: str) -> Mailer:
    return SmtpMailer(smtp_url) if smtp_url else ConsoleMailer()
