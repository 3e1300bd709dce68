"""The connectors the portal runs with, from its settings: the helpdesk
``PORTAL_HELPDESK`` names (``builtin`` or RT), plus a mail to ``PORTAL_HELPDESK_EMAIL``
and a webhook to ``PORTAL_HELPDESK_WEBHOOK`` when they are set."""

from __future__ import annotations

from kb.policy import Policy
from portal.config import Settings
from portal.db.engine import Database
from portal.helpdesk.base import Connector, ExternalHelpdesk
from portal.helpdesk.builtin import Builtin
from portal.helpdesk.email import EmailHelpdesk
from portal.helpdesk.webhook import WebhookHelpdesk


def primary_for(settings: Settings, db: Database | None, policy: Policy | None) -> Connector:
    if settings.helpdesk.startswith("rt+"):
        if db is None:
            raise ValueError("the RT connector needs the database")
        from portal.helpdesk.rt import RTConfig, RTHelpdesk

        return RTHelpdesk(
            db,
            RTConfig.parse(settings.helpdesk),
            settings.helpdesk_token,
            policy=policy,
            upload_dir=settings.upload_dir,
            max_bytes=settings.max_upload_bytes,
        )
    return Builtin()


def connectors_for(
    settings: Settings, db: Database | None = None, policy: Policy | None = None
) -> list[Connector]:
    connectors = [primary_for(settings, db, policy)]
    if settings.helpdesk_email:
        connectors.append(EmailHelpdesk(settings.helpdesk_email))
    if settings.helpdesk_webhook:
        connectors.append(
            WebhookHelpdesk(settings.helpdesk_webhook, secret=settings.webhook_secret)
        )
    return connectors


def external(connectors: list[Connector]) -> ExternalHelpdesk | None:
    """The connector that has tickets of its own to read back, if any."""
    return next((c for c in connectors if isinstance(c, ExternalHelpdesk)), None)
