"""A raw mail (RFC 5322 bytes) as the intake needs it: who sent it, to which address,
which mails it answers, what the customer wrote (without the quoted mail and the
signature) and its attachments.

Pure: no I/O. ``trim_reply`` is table-tested (tests/test_mailin.py).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html.parser
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from portal.inputs import MULTILINE_OK
from portal.notify.addresses import message_ids

MAX_TEXT = 10_000  # as the status page's "add information" form
MAX_ATTACHMENTS = 5

# where the quoted mail starts: an attribution line ("On Mon, 1 Dec 2026, Harbor wrote:",
# also wrapped over two lines), Outlook's separators and header block
_ATTRIBUTION = re.compile(
    r"^(On\s.+\bwrote:|Am\s.+\bschrieb.*:|Le\s.+\ba\s+écrit\s*:|El\s.+\bescribió:)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht)\s*-{2,}"
    r"|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\*?(From|Von|De):\*?\s.+", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\*?(Sent|Date|To|Gesendet|Datum|Envoyé|Subject):\*?\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^--\s?$")  # the RFC 3676 delimiter "-- " (and a bare "--")
_MOBILE = re.compile(r"^(Sent from my |Get Outlook for |Von meinem .* gesendet)", re.IGNORECASE)
_BLANKS = re.compile(r"\n{3,}")


def _quoted_start(lines: list[str]) -> int | None:
    """The index of the first line of the quoted mail, or None."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _SEPARATOR.match(stripped) or _ATTRIBUTION.match(stripped):
            return i
        if i + 1 < len(lines) and _ATTRIBUTION.match(f"{stripped} {lines[i + 1].strip()}"):
            return i
        if _HEADER_BLOCK.match(stripped) and any(
            _HEADER_NEXT.match(following.strip()) for following in lines[i + 1 : i + 4]
        ):
            return i
    return None


def trim_reply(text: str) -> str:
    """What the customer wrote: without the quoted mail (from its attribution line or
    separator on, and any line quoted with ">"), without the signature (from "-- " on)
    and "Sent from my phone" lines; blank lines at the ends removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _quoted_start(lines)
    if start is not None:
        lines = lines[:start]
    kept: list[str] = []
    for line in lines:
        if _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">") or _MOBILE.match(line.strip()):
            continue
        kept.append(line.rstrip())
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip("\n").strip()


class _HtmlText(html.parser.HTMLParser):
    """Text of an HTML part: paragraphs and line breaks kept, quoted parts
    (``<blockquote>``, Gmail's ``gmail_quote``) and scripts and styles left out."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"})
    SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if self.skipping or tag in self.SKIPPED or "gmail_quote" in classes:
            if tag not in ("br", "img", "hr", "meta", "link", "input"):
                self.skipping.append(tag)
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if self.skipping[-1] == tag:
                self.skipping.pop()
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(" ".join(data.split()) if "\n" in data else data)


def html_text(markup: str) -> str:
    reader = _HtmlText()
    reader.feed(markup)
    reader.close()
    return "\n".join(line.strip() for line in "".join(reader.parts).split("\n"))


def clean(text: str) -> str:
    """Only characters the portal's multi-line fields accept: control characters other
    than tab and line breaks, and lone surrogates, are dropped."""
    return "".join(
        c
        for c in text
        if not (0xD800 <= ord(c) <= 0xDFFF)
        and (c in MULTILINE_OK or not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F))
    )


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Parsed:
    key: str  # the Message-ID, or the hash of the raw bytes when there is none
    message_id: str
    sender: str  # lower case
    sender_name: str
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To (lower case)
    subject: str
    answers: tuple[str, ...]  # Message-IDs of In-Reply-To, then References (newest first)
    text: str  # trimmed, at most MAX_TEXT characters
    automatic: bool  # an auto-reply, a bounce or list mail: never answered
    attachments: tuple[Attachment, ...] = field(default=())
    too_many_attachments: int = 0  # attachments past MAX_ATTACHMENTS, not read


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset or broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    return html_text(text) if part.get_content_type() == "text/html" else text


def _automatic(message: Message) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return_path = str(message.get("Return-Path", "")).strip()
    return (
        auto not in ("", "no")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or return_path == "<>"
        or "List-Id" in message
        or message.get_content_type() == "multipart/report"
    )


def parse(raw: bytes) -> Parsed:
    """Read a raw mail. Never raises on malformed input: what cannot be read is empty."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = " ".join(message_ids(str(message.get("Message-ID", "")))[:1])
    key = message_id[:250] or "sha256:" + hashlib.sha256(raw).hexdigest()
    name, sender = parseaddr(str(message.get("From", "")))
    recipients = tuple(
        address.lower()
        for _, address in getaddresses(
            [
                str(v)
                for h in ("To", "Cc", "Delivered-To", "X-Original-To")
                for v in message.get_all(h, [])
            ]
        )
        if address
    )
    answers = message_ids(str(message.get("In-Reply-To", "")))
    answers += [
        m for m in reversed(message_ids(str(message.get("References", "")))) if m not in answers
    ]
    attachments: list[Attachment] = []
    extra = 0
    for part in message.iter_attachments():
        if not isinstance(part, EmailMessage) or part.is_multipart():
            continue
        if len(attachments) >= MAX_ATTACHMENTS:
            extra += 1
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        attachments.append(Attachment(part.get_filename() or "attachment", data))
    text = clean(trim_reply(_body_text(message)))
    return Parsed(
        key=key,
        message_id=message_id,
        sender=sender.strip().lower(),
        sender_name=name.strip(),
        recipients=recipients,
        subject=str(message.get("Subject", "")),
        answers=tuple(answers),
        text=text[:MAX_TEXT],
        automatic=_automatic(message),
        attachments=tuple(attachments),
        too_many_attachments=extra,
    )
