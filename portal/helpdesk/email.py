"""The support mailbox (``PORTAL_HELPDESK_EMAIL``): every filed ticket and every
addition of the customer as a plain-text mail, for any helpdesk with a mail intake
(osTicket, Zammad, FreeScout, RT's own mailgate; docs/helpdesks.md). The outbox sends
them like every other mail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from portal import notify
from portal.db.models import Ticket
from portal.helpdesk.base import Connector, queue_mail


class EmailHelpdesk(Connector):
    name = "email"

    def __init__(self, address: str) -> None:
        self.address = address

    def queue_filed(
        self, session: Session, ticket: Ticket, *, summary: str, payload: dict[str, Any]
    ) -> None:
        queue_mail(session, notify.helpdesk_filed(self.address, ticket, summary=summary))

    def queue_comment(
        self, session: Session, ticket: Ticket, text: str, *, files: Sequence[str] = ()
    ) -> None:  # the files stay in the portal: the text names them
        queue_mail(session, notify.customer_comment(self.address, ticket, text=text))
