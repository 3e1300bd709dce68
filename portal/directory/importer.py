"""The account directory: who may ask for support on which account.

``portal accounts import FILE`` reads CSV or YAML, checks every row against the policy
(plans, contact roles and how many of each), and imports all or nothing: a file with
any error changes nothing. Importing the same file twice changes nothing the second
time. Accounts not named in the file are left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb.policy import Policy
from portal.db.engine import Database
from portal.db.models import Account, Contact, Server
from portal.directory.normalise import account_key

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")
CSV_COLUMNS = (
    "account_id",
    "account_name",
    "plan",
    "plan_ends",
    "product_version",
    "contact_email",
    "contact_name",
    "contact_role",
    "servers",
)


SERVER_OWNERS = ("own", "upstream")
NO_DATE = dt.date.min  # sorts a server without a billing period end
# bidi embeddings, overrides and isolates: they reorder what staff read in a mail
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass
class ContactRow:
    email: str
    name: str
    role: str
    line: int = 0  # where the contact is written (0: the account's line)


@dataclass
class ServerRow:
    name: str
    server_id: str
    owner: str
    line: int = 0
    billing_ends: dt.date | None = None  # last day of the current billing period


@dataclass
class AccountRow:
    id: str
    name: str
    plan: str
    plan_ends: dt.date | None
    product_version: str | None
    line: int
    contacts: list[ContactRow] = field(default_factory=list)
    servers: list[ServerRow] = field(default_factory=list)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


def bad_character(value: str) -> str | None:
    """What makes ``value`` unfit for the directory, or None: a line break, a control
    character (C0, DEL, C1), a lone surrogate or a bidi control. Names and ids from
    the directory end up in plain-text mail, where a newline could forge a header-like
    line ("Priority: ...") and a bidi override could reorder what staff read."""
    for char in value:
        if char in "\n\r\x0b\x0c\x85\u2028\u2029":
            return "a line break"
        category = unicodedata.category(char)
        if category == "Cc":
            return f"a control character (U+{ord(char):04X})"
        if category == "Cs":
            return f"an invalid character (U+{ord(char):04X})"
        if char in _BIDI:
            return f"a text-direction control (U+{ord(char):04X})"
    return None


def _date(value: Any, line: int, errors: list[str], label: str = "plan_ends") -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.append(f"line {line}: {label} '{_show(str(value))}' must be a date (YYYY-MM-DD)")
        return None


def _servers_from_text(text: str, line: int, errors: list[str]) -> list[ServerRow]:
    servers = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        bits = [b.strip() for b in part.split(":")]
        if len(bits) not in (2, 3, 4):
            errors.append(
                f"line {line}: server '{part}' must be name:id, name:id:owner or "
                "name:id:owner:billing_ends"
            )
            continue
        ends = _date(bits[3], line, errors, "billing_ends") if len(bits) == 4 else None
        owner = (bits[2] if len(bits) >= 3 else "") or "own"
        servers.append(ServerRow(bits[0], bits[1], owner, line, ends))
    return servers


def parse_csv(text: str) -> tuple[list[AccountRow], list[str]]:
    """One row per contact; account columns repeat and must agree."""
    errors: list[str] = []
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c
        for c in ("account_id", "plan", "contact_email", "contact_role")
        if c not in (reader.fieldnames or [])
    ]
    if missing:
        return [], [f"line 1: missing column(s): {', '.join(missing)}"]
    unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
    if unknown:
        errors.append(f"line 1: unknown column(s): {', '.join(unknown)}")
    accounts: dict[str, AccountRow] = {}
    while True:
        line = reader.line_num + 1  # where the record starts (a quoted field may span lines)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            return [], [f"line {line}: not valid CSV ({exc})"]
        if None in row:  # DictReader's key for fields beyond the header
            errors.append(f"line {line}: more fields than columns (quote values with commas)")
            continue
        account_id = (row.get("account_id") or "").strip()
        name = (row.get("account_name") or "").strip() or account_id
        plan = (row.get("plan") or "").strip()
        ends = _date((row.get("plan_ends") or "").strip(), line, errors)
        version = (row.get("product_version") or "").strip() or None
        account = accounts.get(account_id)
        if account is None:
            account = AccountRow(account_id, name, plan, ends, version, line)
            accounts[account_id] = account
        else:
            differ = [
                label
                for label, mine, first in (
                    ("name", name, account.name),
                    ("plan", plan, account.plan),
                    ("plan end", ends, account.plan_ends),
                    ("version", version, account.product_version),
                )
                if mine != first
            ]
            if differ:
                errors.append(
                    f"line {line}: account '{account_id}' has a different "
                    f"{', '.join(differ)} than on line {account.line}; account columns "
                    "must agree on every row of the account"
                )
        account.contacts.append(
            ContactRow(
                (row.get("contact_email") or "").strip().lower(),
                (row.get("contact_name") or "").strip(),
                (row.get("contact_role") or "").strip(),
                line,
            )
        )
        if row.get("servers"):
            known = {s.server_id: s for s in account.servers}
            for server in _servers_from_text(row["servers"], line, errors):
                first = known.get(server.server_id)
                if first is None:
                    account.servers.append(server)
                    known[server.server_id] = server
                elif (first.name, first.owner, first.billing_ends) != (
                    server.name,
                    server.owner,
                    server.billing_ends,
                ):
                    errors.append(
                        f"line {line}: server id '{server.server_id}' is "
                        f"'{server.name}:{server.owner}' here but "
                        f"'{first.name}:{first.owner}' on line {first.line}"
                    )
    return list(accounts.values()), errors


def _entry_lines(account: yaml.Node | None, key: str) -> list[int]:
    """The line of each entry of the list under ``key`` of one account's mapping."""
    if isinstance(account, yaml.MappingNode):
        for k, value in account.value:
            if k.value == key and isinstance(value, yaml.SequenceNode):
                return [entry.start_mark.line + 1 for entry in value.value]
    return []


def parse_yaml(text: str) -> tuple[list[AccountRow], list[str]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [f"line {mark.line + 1 if mark else 1}: not valid YAML"]
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        return [], ["line 1: the file must have a list under 'accounts:'"]
    items: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "accounts" and isinstance(value, yaml.SequenceNode):
                items = list(value.value)
    lines = [item.start_mark.line + 1 for item in items]
    errors: list[str] = []
    rows: list[AccountRow] = []
    for i, item in enumerate(data["accounts"]):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(item, dict):
            errors.append(f"line {line}: each account must be a mapping")
            continue
        unknown = set(item) - {
            "id",
            "name",
            "plan",
            "plan_ends",
            "product_version",
            "contacts",
            "servers",
        }
        if unknown:
            errors.append(f"line {line}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        row = AccountRow(
            id=str(item.get("id") or ""),
            name=str(item.get("name") or item.get("id") or ""),
            plan=str(item.get("plan") or ""),
            plan_ends=_date(item.get("plan_ends"), line, errors),
            product_version=str(item["product_version"]) if item.get("product_version") else None,
            line=line,
        )
        contact_lines = _entry_lines(items[i] if i < len(items) else None, "contacts")
        for j, contact in enumerate(item.get("contacts") or []):
            at = contact_lines[j] if j < len(contact_lines) else line
            if not isinstance(contact, dict):
                errors.append(f"line {at}: contacts must be mappings with email, name, role")
                continue
            row.contacts.append(
                ContactRow(
                    str(contact.get("email") or "").strip().lower(),
                    str(contact.get("name") or "").strip(),
                    str(contact.get("role") or "").strip(),
                    at,
                )
            )
        server_lines = _entry_lines(items[i] if i < len(items) else None, "servers")
        for j, server in enumerate(item.get("servers") or []):
            at = server_lines[j] if j < len(server_lines) else line
            if not isinstance(server, dict):
                errors.append(f"line {at}: servers must be mappings with name, id, owner")
                continue
            unknown_keys = set(server) - {"name", "id", "owner", "billing_ends"}
            if unknown_keys:
                errors.append(
                    f"line {at}: unknown server key(s): {', '.join(sorted(map(str, unknown_keys)))}"
                )
            row.servers.append(
                ServerRow(
                    str(server.get("name") or ""),
                    str(server.get("id") or ""),
                    str(server.get("owner") or "own"),
                    at,
                    _date(server.get("billing_ends"), at, errors, "billing_ends"),
                )
            )
        rows.append(row)
    return rows, errors


def _show(value: str) -> str:
    """``value`` for an error message: anything unprintable as an escape, so a bad
    value cannot break the message's line or the staff member's terminal."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value)[:80]


def _check_text(where: str, label: str, value: str | None, errors: list[str]) -> bool:
    problem = bad_character(value or "")
    if problem is not None:
        errors.append(f"{where}: {label} '{_show(value or '')}' contains {problem}")
        return False
    return True


def validate(policy: Policy, rows: list[AccountRow]) -> list[str]:
    errors: list[str] = []
    seen: dict[str, int] = {}
    for row in rows:
        where = f"line {row.line}"
        for label, value in (
            ("account id", row.id),
            ("account name", row.name),
            ("plan", row.plan),
            ("product version", row.product_version),
        ):
            _check_text(where, label, value, errors)
        if not _ID.fullmatch(row.id):
            errors.append(
                f"{where}: account id '{_show(row.id)}' must be 2-40 letters, digits, . _ -"
            )
        if row.id in seen:
            errors.append(f"{where}: account '{_show(row.id)}' also on line {seen[row.id]}")
        seen[row.id] = row.line
        if row.plan not in policy.plans:
            errors.append(
                f"{where}: unknown plan '{_show(row.plan)}' (one of {', '.join(policy.plans)})"
            )
        if not row.contacts:
            errors.append(f"{where}: account '{_show(row.id)}' has no contacts")
        emails = Counter(c.email for c in row.contacts)
        for email, n in emails.items():
            if n > 1:
                errors.append(f"{where}: contact {_show(email)} is listed {n} times")
        for contact in row.contacts:
            at = f"line {contact.line or row.line}"
            clean = all(
                [
                    _check_text(at, "contact email", contact.email, errors),
                    _check_text(at, "contact name", contact.name, errors),
                    _check_text(at, "contact role", contact.role, errors),
                ]
            )
            if clean and (len(contact.email) > 254 or not _EMAIL.fullmatch(contact.email)):
                errors.append(f"{at}: '{_show(contact.email)}' is not an email address")
            if clean and policy.contacts.roles and policy.contacts.role(contact.role) is None:
                roles = ", ".join(r.id for r in policy.contacts.roles)
                errors.append(f"{at}: unknown role '{_show(contact.role)}' (one of {roles})")
        per_role = Counter(c.role for c in row.contacts)
        for role in policy.contacts.roles:
            if role.max is not None and per_role.get(role.id, 0) > role.max:
                errors.append(
                    f"{where}: {per_role[role.id]} {role.name.lower()}s; at most {role.max} allowed"
                )
        total = policy.contacts.max_total
        if total is not None and len(row.contacts) > total:
            errors.append(f"{where}: {len(row.contacts)} contacts; at most {total} allowed")
        server_ids: dict[str, int] = {}
        for server in row.servers:
            at = f"line {server.line or row.line}"
            clean = all(
                [
                    _check_text(at, "server name", server.name, errors),
                    _check_text(at, "server id", server.server_id, errors),
                    _check_text(at, "server owner", server.owner, errors),
                ]
            )
            if not server.name or not server.server_id:
                errors.append(f"{at}: every server needs a name and an id")
            if clean and server.owner not in SERVER_OWNERS:
                errors.append(
                    f"{at}: server '{_show(server.name)}' has owner '{_show(server.owner)}'; "
                    "the owner must be 'own' or 'upstream'"
                )
            if server.server_id in server_ids:
                errors.append(
                    f"{at}: server id '{_show(server.server_id)}' is listed twice for account "
                    f"'{_show(row.id)}' (also on line {server_ids[server.server_id]})"
                )
            server_ids.setdefault(server.server_id, server.line or row.line)
    return errors


def _snapshot(account: Account | None, contacts: list[Contact], servers: list[Server]) -> Any:
    if account is None:
        return None
    return (
        account.name,
        account.plan,
        account.plan_ends,
        account.product_version,
        sorted((c.email, c.name, c.role) for c in contacts),
        sorted((s.name, s.server_id, s.owner, s.billing_ends or NO_DATE) for s in servers),
    )


def import_rows(db: Database, rows: list[AccountRow]) -> ImportReport:
    """Upsert the accounts in one transaction."""
    report = ImportReport()
    with db.session() as session:
        for row in rows:
            account = session.get(Account, row.id)
            contacts = list(session.scalars(select(Contact).where(Contact.account_id == row.id)))
            servers = list(session.scalars(select(Server).where(Server.account_id == row.id)))
            before = _snapshot(account, contacts, servers)
            wanted = (
                row.name,
                row.plan,
                row.plan_ends,
                row.product_version,
                sorted((c.email, c.name, c.role) for c in row.contacts),
                sorted(
                    (s.name, s.server_id, s.owner, s.billing_ends or NO_DATE) for s in row.servers
                ),
            )
            if before == wanted:
                report.unchanged.append(row.id)
                continue
            if account is None:
                account = Account(id=row.id)
                session.add(account)
                report.created.append(row.id)
            else:
                report.updated.append(row.id)
            account.name, account.plan = row.name, row.plan
            account.plan_ends, account.product_version = row.plan_ends, row.product_version
            session.flush()
            session.execute(delete(Contact).where(Contact.account_id == row.id))
            session.execute(delete(Server).where(Server.account_id == row.id))
            session.add_all(
                Contact(account_id=row.id, email=c.email, name=c.name, role=c.role)
                for c in row.contacts
            )
            session.add_all(
                Server(
                    account_id=row.id,
                    name=s.name,
                    server_id=s.server_id,
                    owner=s.owner,
                    billing_ends=s.billing_ends,
                )
                for s in row.servers
            )
    return report


def import_file(db: Database, policy: Policy, path: Path) -> ImportReport:
    with path.open(encoding="utf-8", newline="") as file:  # a CR in a field stays a CR
        text = file.read()
    if path.suffix.lower() in (".yaml", ".yml"):
        rows, errors = parse_yaml(text)
    else:
        rows, errors = parse_csv(text)
    errors += validate(policy, rows)
    if errors:
        return ImportReport(errors=errors)
    return import_rows(db, rows)


@dataclass(frozen=True)
class Sender:
    """A listed contact of an account, as the directory knows them."""

    account_id: str
    account_name: str
    plan: str
    plan_ends: dt.date | None
    product_version: str | None
    email: str
    name: str
    role: str
    servers: tuple[tuple[str, str, str], ...]


def find_account(session: Session, account_id: str) -> Account | None:
    """The account an id names as customers type it: exactly, else by its comparison
    key (``portal.directory.normalise``: case, white space and hyphens do not count),
    when exactly one account has that key."""
    account = session.get(Account, account_id) if len(account_id) <= 40 else None
    key = account_key(account_id)
    if account is not None or not key or len(key) > 40:
        return account
    stored_key = func.upper(func.replace(Account.id, "-", ""))
    found = list(session.scalars(select(Account).where(stored_key == key).limit(2)))
    return found[0] if len(found) == 1 else None


def find_sender(db: Database, account_id: str, email: str) -> Sender | None:
    with db.session() as session:
        account = find_account(session, account_id)
        if account is None:
            return None
        contact = session.scalars(
            select(Contact).where(Contact.account_id == account.id, Contact.email == email.lower())
        ).first()
        if contact is None:
            return None
        servers = session.scalars(select(Server).where(Server.account_id == account.id))
        return Sender(
            account.id,
            account.name,
            account.plan,
            account.plan_ends,
            account.product_version,
            contact.email,
            contact.name,
            contact.role,
            tuple((s.name, s.server_id, s.owner) for s in servers),
        )
