"""The addresses on a ticket mail that bring the customer's answer back to its ticket.

A ticket mail's Reply-To is a signed plus-address of ``PORTAL_REPLY_ADDRESS``:
``support+t-7kq3-m9xd-<sig>@harbor.example`` for ticket ``T-7KQ3-M9XD``. The
signature is a keyed hash of the ticket number (case-insensitive: mail systems may
change the case of a local part), so nobody can make a valid address for another
ticket by editing the number. Its Message-ID, recorded on the outbox row, lets a reply
whose client dropped the Reply-To still be matched by its References.

Pure functions: no I/O, no database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SIG_CHARS = 10  # base32: 50 bits
_PURPOSE = b"portal.reply-address\x00"
_NUMBER = re.compile(r"^T-[0-9A-Z]{4}-[0-9A-Z]{4}$")
# local+t-xxxx-xxxx-sig@domain (the tag may be upper or lower case)
_PLUS = re.compile(
    r"^(?P<local>[^+@\s]+)\+t-(?P<a>[0-9a-z]{4})-(?P<b>[0-9a-z]{4})-(?P<sig>[a-z2-7]+)"
    r"@(?P<domain>[^@\s]+)$",
    re.IGNORECASE,
)


def _signature(secret: str, number: str) -> str:
    digest = hmac.new(secret.encode(), _PURPOSE + number.upper().encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()).decode("ascii").lower()[:SIG_CHARS]


def reply_address(secret: str, base: str, number: str) -> str:
    """The signed plus-address of ``base`` (``support@harbor.example``) for a ticket."""
    if not _NUMBER.match(number):
        raise ValueError(f"not a ticket number: {number!r}")
    local, _, domain = base.rpartition("@")
    if not local or not domain:
        raise ValueError(f"not an address: {base!r}")
    tag = number.lower()
    return f"{local}+{tag}-{_signature(secret, number)}@{domain}"


@dataclass(frozen=True)
class ReplyTag:
    """What a plus-address says: the ticket number, and whether its signature holds."""

    number: str
    valid: bool


def read_reply_address(secret: str, base: str, address: str) -> ReplyTag | None:
    """The ticket a recipient address names, or None when it is not a plus-address of
    ``base`` at all (another mailbox, or no tag). A tag whose signature does not match
    comes back with ``valid=False`` (forged, or edited by hand)."""
    match = _PLUS.match(address.strip())
    if match is None:
        return None
    local, _, domain = base.rpartition("@")
    if match["local"].lower() != local.lower() or match["domain"].lower() != domain.lower():
        return None
    number = f"T-{match['a']}-{match['b']}".upper()
    expected = _signature(secret, number)
    return ReplyTag(number, hmac.compare_digest(expected, match["sig"].lower()))


def domain_of(address: str) -> str:
    """The domain of an address (``localhost`` when it has none)."""
    domain = address.rpartition("@")[2].strip().strip(">")
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "localhost"


def new_message_id(domain: str, row: int) -> str:
    """A Message-ID for outbox row ``row``: unique, and without the host name that
    ``email.utils.make_msgid`` would put in it."""
    return f"<portal.{row}.{secrets.token_hex(8)}@{domain}>"


_ID = re.compile(r"<[^<>\s]+>")


def message_ids(header: str) -> list[str]:
    """The Message-IDs in a References / In-Reply-To header, in order."""
    return _ID.findall(header or "")
