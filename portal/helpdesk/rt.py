"""Request Tracker 5, through its REST 2 API (``PORTAL_HELPDESK=rt+https://HOST/…``).

The portal's ticket becomes an RT ticket in the queue of its request type, with the
contact as Requestor, ``[NUMBER] title`` as Subject, Priority from the policy's
priorities (``rt_priority``), Due = the first response due, the custom fields the
queue has (``CUSTOM_FIELDS``), the attachments, and the ticket summary with every
detail as its content. A retry looks the ticket up by the number in the Subject before
creating another. Customer additions become correspondence with the Subject
``ADDITION_SUBJECT`` and their files attached; RT's transactions since the last one seen
come back as status changes and replies with their files (comments are never read).
docs/helpdesks.md says how to connect.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx2 as httpx
from sqlalchemy import select

from kb.policy import Policy
from portal import notify
from portal.db.engine import Database
from portal.db.models import Outbox, Server, Ticket, Upload
from portal.helpdesk.base import KIND, Change, ChangeFile, ExternalHelpdesk
from portal.wizard import uploads

log = logging.getLogger("portal.helpdesk.rt")

# portal field -> the RT custom field (on the queue's tickets) that receives it, if the
# queue has one of that name
CUSTOM_FIELDS = {
    "number": "Portal ticket",
    "plan": "Plan",
    "request_type": "Request type",
    "coverage": "Coverage",
    "estimate": "Accepted estimate",
    "server": "Server",
    "server_id": "Server ID",
    "emergency": "Emergency claim",
}
# the Subject of correspondence the portal adds for the customer: such transactions are
# the customer's own words, never read back as a reply
ADDITION_SUBJECT = "Added by the customer in the portal"
NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,30}$")
PAGE = 100
MAX_PAGES = 10  # transactions read per poll at most: PAGE * MAX_PAGES; the rest next time


class RTError(OSError):
    """RT answered with an error (or not at all)."""


@dataclass(frozen=True)
class RTConfig:
    """What ``PORTAL_HELPDESK=rt+https://host/path/?queue=Support&queue.KEY=Queue``
    says: RT's web root and the queue map (KEY: a request type id, a request type
    category or a routing such as ``upstream``)."""

    base_url: str
    queue: str = "General"
    queues: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    @classmethod
    def parse(cls, url: str) -> RTConfig:
        if not url.startswith(("rt+http://", "rt+https://")):
            raise ValueError("an RT helpdesk URL starts with rt+https:// (or rt+http://)")
        parts = urlsplit(url[3:])
        if not parts.hostname:
            raise ValueError("the RT helpdesk URL names no host")
        queue = "General"
        queues: dict[str, str] = {}
        timeout = 10.0
        for key, value in parse_qsl(parts.query, keep_blank_values=False):
            if key == "queue":
                queue = value
            elif key.startswith("queue."):
                queues[key.removeprefix("queue.")] = value
            elif key == "timeout":
                timeout = float(value)
            else:
                raise ValueError(f"unknown RT helpdesk option {key!r}")
        base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        return cls(base_url=base, queue=queue, queues=queues, timeout=timeout)

    @property
    def api(self) -> str:
        return self.base_url + "/REST/2.0/"


# --- pure mapping ------------------------------------------------------------------------


def queue_for(config: RTConfig, request_type: str, category: str, routing: str) -> str:
    """The queue of a request: by request type id, else its category, else its routing
    (``upstream``), else the default queue."""
    for key in (request_type, category, routing):
        if key and key in config.queues:
            return config.queues[key]
    return config.queue


def rt_priority(priorities: Iterable[str], priority: str, *, emergency: bool = False) -> int:
    """RT's 0–100 Priority for one of the policy's priorities (most urgent first): spread
    evenly from 100 (the most urgent) to 0 (the least); an accepted emergency is 100; a
    priority the policy does not list is 50."""
    order = list(priorities)
    if emergency:
        return 100
    if priority not in order:
        return 50
    if len(order) == 1:
        return 50
    rank = order.index(priority)
    return round(100 * (len(order) - 1 - rank) / (len(order) - 1))


def rt_time(moment: dt.datetime) -> str:
    """A UTC time as RT's REST 2 reads it."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_rt_time(text: str) -> dt.datetime | None:
    if not text or text.startswith("1970-01-01"):
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the client ---------------------------------------------------------------------------


class RTClient:
    """REST 2 calls with a timeout; any failure raises (the outbox retries)."""

    def __init__(self, config: RTConfig, token: str) -> None:
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json"}
        if ":" in token:
            user, _, password = token.partition(":")
            auth = httpx.BasicAuth(user, password)
        elif token:
            headers["Authorization"] = f"token {token}"
        self.http = httpx.Client(
            base_url=config.api,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(config.timeout),
            follow_redirects=False,
            trust_env=False,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RTError(f"RT {method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise RTError(
                f"RT {method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


def _subject(transaction: Mapping[str, Any]) -> str:
    """A correspondence's Subject (RT keeps it in the transaction's Data)."""
    return str(transaction.get("Data") or "").strip()


# --- the connector -----------------------------------------------------------------------


class RTHelpdesk(ExternalHelpdesk):
    name = "rt"

    def __init__(
        self,
        db: Database,
        config: RTConfig,
        token: str,
        *,
        policy: Policy | None,
        upload_dir: Path,
        max_bytes: int = 5 * 1048576,
    ) -> None:
        super().__init__(db)
        self.config = config
        self.token = token
        self._client: RTClient | None = None
        self.policy = policy
        self.upload_dir = upload_dir
        self.max_bytes = max_bytes  # a reply's file larger than this is not fetched
        self._queue_fields: dict[str, frozenset[str]] = {}

    @property
    def client(self) -> RTClient:
        """Made on first use: queueing a delivery needs no connection."""
        if self._client is None:
            self._client = RTClient(self.config, self.token)
        return self._client

    @property
    def cursor_name(self) -> str:
        return f"rt {self.config.base_url}"

    # --- creating -------------------------------------------------------------------

    def queue_custom_fields(self, queue: str) -> frozenset[str]:
        """The names of the custom fields the queue's tickets have (asked once)."""
        if queue not in self._queue_fields:
            info = self.client.call("GET", f"queue/{queue}")
            found = self.client.call(
                "GET",
                f"queue/{info['id']}/customfields",
                params={"fields": "Name", "per_page": 100},
            )
            self._queue_fields[queue] = frozenset(
                str(item.get("Name", "")) for item in found.get("items", [])
            )
        return self._queue_fields[queue]

    def find_existing(self, ticket: Ticket) -> str | None:
        number = ticket.number
        if not NUMBER.match(number):
            return None
        found = self.client.call(
            "GET",
            "tickets",
            params={"query": f"Subject LIKE '[{number}]'", "fields": "Subject", "per_page": 20},
        )
        for item in found.get("items", []):
            if str(item.get("Subject", "")).startswith(f"[{number}]"):
                return str(item["id"])
        return None

    def deliver(self, ticket: Ticket) -> str:
        payload = self.ticket_payload(ticket)
        created = self.client.call("POST", "ticket", json=payload)
        external = str(created["id"])
        log.info("ticket %s is RT ticket %s", ticket.number, external)
        return external

    def ticket_payload(self, ticket: Ticket) -> dict[str, Any]:
        """The JSON of ``POST /ticket`` for a portal ticket."""
        policy = self.policy
        request_type = policy.request_types.get(ticket.request_type) if policy else None
        queue = queue_for(
            self.config,
            ticket.request_type,
            request_type.category if request_type else "",
            ticket.routing,
        )
        due_text = str(ticket.plan_snapshot.get("first_response_text") or "")
        zone = policy.provider.timezone if policy else "UTC"
        payload: dict[str, Any] = {
            "Queue": queue,
            "Subject": f"[{ticket.number}] {ticket.title}",
            "Requestor": ticket.contact_email,
            "Priority": rt_priority(
                policy.priorities if policy else (),
                ticket.priority,
                emergency=ticket.emergency_accepted,
            ),
            "Content": notify.ticket_summary(ticket, due_text, provider_zone=zone) + "\n",
            "ContentType": "text/plain",
        }
        if ticket.due_at is not None:
            payload["Due"] = rt_time(ticket.due_at)
        available = self.queue_custom_fields(queue)
        values = {CUSTOM_FIELDS[k]: v for k, v in self.field_values(ticket).items() if v}
        fields = {name: value for name, value in values.items() if name in available}
        if fields:
            payload["CustomFields"] = fields
        attachments = self.attachments(ticket)
        if attachments:
            payload["Attachments"] = attachments
        return payload

    def field_values(self, ticket: Ticket) -> dict[str, str]:
        """The values for ``CUSTOM_FIELDS``, by portal field."""
        server, server_id = self._server(ticket)
        # the claim's outcome id (kb.policy.engine.EMERGENCY_OUTCOMES), stable for RT's
        # searches; empty when no claim was made
        claimed = ticket.emergency_outcome if ticket.emergency_claimed else ""
        return {
            "number": ticket.number,
            "plan": str(ticket.plan_snapshot.get("name") or ticket.plan),
            "request_type": ticket.request_type,
            "coverage": ticket.coverage_status,
            "estimate": ticket.estimate or "",
            "server": server,
            "server_id": server_id,
            "emergency": claimed,
        }

    def _server(self, ticket: Ticket) -> tuple[str, str]:
        """The account's server the request names in its details (name, id)."""
        text = " ".join(str(v) for v in ticket.details.values()).lower()
        if not text:
            return "", ""
        with self.db.session() as session:
            servers = session.scalars(
                select(Server).where(Server.account_id == ticket.account_id)
            ).all()
            for server in servers:
                if server.name.lower() in text or server.server_id.lower() in text:
                    return server.name, server.server_id
        return "", ""

    def attachments(self, ticket: Ticket) -> list[dict[str, str]]:
        """The ticket's files as ``Attachments`` of ``POST /ticket``, but those of an
        addition still waiting for the ticket to reach RT: they go with the addition."""
        with self.db.session() as session:
            rows = session.scalars(
                select(Upload).where(Upload.ticket_id == ticket.id).order_by(Upload.created_at)
            ).all()
            waiting = session.scalars(
                select(Outbox.body).where(
                    Outbox.kind == KIND,
                    Outbox.recipient == self.name,
                    Outbox.ticket_number == ticket.number,
                    Outbox.purpose == "comment",
                    Outbox.delivered_at.is_(None),
                )
            ).all()
        later = {str(f) for body in waiting for f in json.loads(body).get("files", ())}
        return self._encoded(ticket.number, [r for r in rows if r.id not in later])

    def _encoded(self, number: str, rows: Sequence[Upload]) -> list[dict[str, str]]:
        """Uploads as REST 2 ``Attachments`` (name, type, base64 content)."""
        found = []
        for row in rows:
            path = uploads.path_of(self.upload_dir, row.id)
            if path is None:
                log.warning("ticket %s: attachment %s is missing", number, row.id)
                continue
            found.append(
                {
                    "FileName": row.filename,
                    "FileType": row.content_type,
                    "FileContent": base64.b64encode(path.read_bytes()).decode("ascii"),
                }
            )
        return found

    # --- the customer's additions --------------------------------------------------------

    def add_correspondence(
        self, external_id: str, text: str, *, retry: bool, files: Sequence[str] = ()
    ) -> None:
        if retry and self._already_added(external_id, text):
            return
        payload: dict[str, Any] = {
            "Subject": ADDITION_SUBJECT,
            "Content": text,
            "ContentType": "text/plain",
        }
        if files:
            with self.db.session() as session:
                rows = session.scalars(
                    select(Upload).where(Upload.id.in_(files)).order_by(Upload.created_at)
                ).all()
            attachments = self._encoded(f"RT ticket {external_id}", rows)
            if attachments:
                payload["Attachments"] = attachments
        self.client.call("POST", f"ticket/{external_id}/correspond", json=payload)

    def _already_added(self, external_id: str, text: str) -> bool:
        """An earlier attempt that timed out may have added it: look at the ticket's
        additions from the portal."""
        history = self.client.call(
            "GET",
            f"ticket/{external_id}/history",
            params={"fields": "Type,Data", "per_page": PAGE, "order": "DESC"},
        )
        for item in history.get("items", []):
            if (
                item.get("Type") == "Correspond"
                and _subject(item) == ADDITION_SUBJECT
                and self.transaction_text(str(item["id"])).strip() == text.strip()
            ):
                return True
        return False

    # --- reading RT's changes -----------------------------------------------------------

    def changes_since(
        self, cursor: str | None, wanted: Callable[[str], bool] | None = None
    ) -> tuple[list[Change], str]:
        if cursor is None:
            newest = self._transactions(0, order="DESC", per_page=1)
            items = newest.get("items", [])
            return [], str(items[0]["id"]) if items else "0"
        last = int(cursor)
        changes: list[Change] = []
        for _ in range(MAX_PAGES):
            page = self._transactions(last)
            items = page.get("items", [])
            for item in items:
                last = max(last, int(item["id"]))
                change = self._change(item, wanted)
                if change is not None:
                    changes.append(change)
            if len(items) < PAGE:
                break
        return changes, str(last)

    def _transactions(self, after: int, *, order: str = "ASC", per_page: int = PAGE) -> Any:
        query = [
            {"field": "id", "operator": ">", "value": str(after)},
            {"field": "ObjectType", "value": "RT::Ticket"},
        ]
        return self.client.call(
            "GET",
            "transactions",
            params={
                "query": json.dumps(query),
                "fields": "Type,Field,ObjectId,NewValue,Data,Created",
                "orderby": "id",
                "order": order,
                "per_page": per_page,
            },
        )

    def _change(
        self, item: Mapping[str, Any], wanted: Callable[[str], bool] | None
    ) -> Change | None:
        kind = item.get("Type")
        external = str(item.get("ObjectId", ""))
        if kind not in ("Status", "Correspond") or (wanted is not None and not wanted(external)):
            return None  # comments, field changes, mail records, other tickets: not read
        at = parse_rt_time(str(item.get("Created", "")))
        if kind == "Status":  # RT's status name: portal.tickets.states maps it
            status = str(item.get("NewValue", ""))
            return Change(str(item["id"]), external, "status", status=status, at=at)
        if _subject(item) == ADDITION_SUBJECT:
            return None  # the customer's own words, added by the portal
        parts = self._parts(str(item["id"]))
        text = self._text(parts).strip()
        files = tuple(self._file(part) for part in parts if part.get("Filename"))
        if not text and not files:
            return None
        return Change(str(item["id"]), external, "reply", text=text, at=at, files=files)

    def _parts(self, transaction: str) -> list[Mapping[str, Any]]:
        """A transaction's MIME parts (RT's attachments), without their content."""
        found = self.client.call(
            "GET",
            f"transaction/{transaction}/attachments",
            params={"fields": "ContentType,Filename,ContentLength", "per_page": PAGE},
        )
        return list(found.get("items", []))

    def _content(self, part: Mapping[str, Any]) -> bytes:
        answer = self.client.call("GET", f"attachment/{part['id']}")
        return base64.b64decode(answer.get("Content") or "")

    def _text(self, parts: Iterable[Mapping[str, Any]]) -> str:
        for part in parts:
            if part.get("ContentType") == "text/plain" and not part.get("Filename"):
                return self._content(part).decode("utf-8", "replace")
        return ""

    def _file(self, part: Mapping[str, Any]) -> ChangeFile:
        """A file of a reply; one larger than ``max_bytes`` is not fetched."""
        size = int(str(part.get("ContentLength") or 0) or 0)
        data = None if size > self.max_bytes else self._content(part)
        return ChangeFile(
            filename=str(part["Filename"]),
            content_type=str(part.get("ContentType") or ""),
            size=len(data) if data is not None else size,
            data=data,
        )

    def transaction_text(self, transaction: str) -> str:
        """The plain-text body of a transaction (the first text/plain part that is not a
        file)."""
        return self._text(self._parts(transaction))
