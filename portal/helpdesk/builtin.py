"""The portal's own store: tickets stay in the portal's database and staff work on them
in the portal's console, so there is nothing to deliver anywhere."""

from __future__ import annotations

from portal.helpdesk.base import Connector


class Builtin(Connector):
    name = "builtin"
