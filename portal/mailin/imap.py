"""Reading customers' answers from an IMAP mailbox (``PORTAL_IMAP_URL``, imap-tools).

Each poll takes the unseen messages of the folder, applies each once
(``intake.receive``, which records its Message-ID in the same transaction as what it
changed), then marks it seen, or moves it to ``?move=FOLDER``. A restart between the
two finds the message unseen again; the intake recognises it and nothing happens twice.
A message the intake cannot apply now (the database is down) stays unseen for the
next poll.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from portal.config import Settings
from portal.db.engine import Database
from portal.mailin import intake

log = logging.getLogger("portal.mailin.imap")
MAX_PER_POLL = 200  # the rest waits for the next poll
TIMEOUT = 30.0


@dataclass(frozen=True)
class Mailbox:
    """Where ``PORTAL_IMAP_URL`` points."""

    tls: bool
    starttls: bool
    host: str
    port: int
    user: str
    password: str
    folder: str
    move_to: str

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise ValueError("PORTAL_IMAP_URL must start with imap:// or imaps://")
        query = parse_qs(parts.query)
        tls = parts.scheme == "imaps"
        return cls(
            tls=tls,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            host=parts.hostname or "localhost",
            port=parts.port or (993 if tls else 143),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            move_to=query.get("move", [""])[0],
        )

    def connect(self) -> BaseMailBox:
        box: BaseMailBox
        if self.tls:
            box = MailBox(self.host, self.port, timeout=TIMEOUT)
        elif self.starttls:
            box = MailBoxStartTls(self.host, self.port, timeout=TIMEOUT)
        else:
            box = MailBoxUnencrypted(self.host, self.port, timeout=TIMEOUT)
        return box.login(self.user, self.password, initial_folder=self.folder)


@dataclass
class PollReport:
    seen: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items()))
        return f"{self.seen} mails read" + (f" ({counts})" if counts else "")


def _raw(box: BaseMailBox, uid: str) -> bytes | None:
    """The message's bytes as they were received (BODY.PEEK: not marked seen yet)."""
    status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def poll(
    db: Database, settings: Settings, *, provider: str, now: dt.datetime | None = None
) -> PollReport:
    """Read and apply the folder's unseen mail once."""
    mailbox = Mailbox.from_url(settings.imap_url)
    report = PollReport()
    with mailbox.connect() as box:
        if mailbox.move_to and not box.folder.exists(mailbox.move_to):
            box.folder.create(mailbox.move_to)
        for uid in box.uids(AND(seen=False))[:MAX_PER_POLL]:
            raw = _raw(box, uid)
            if raw is None:
                continue
            outcome = intake.receive(
                db, settings, raw, provider=provider, now=now or dt.datetime.now(dt.UTC)
            )
            report.seen += 1
            report.outcomes[outcome.outcome] = report.outcomes.get(outcome.outcome, 0) + 1
            if mailbox.move_to:
                box.move(uid, mailbox.move_to)
            else:
                box.flag(uid, "\\Seen", True)
    return report
