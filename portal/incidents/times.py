"""Moments as customers read them on /status and in the notices' mail."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from kb.policy import Policy


def local_time(policy: Policy | None, moment: dt.datetime | None) -> str:
    """A moment in the provider's time zone: "Sat 5 Dec 2026, 22:00 (Europe/Berlin)"."""
    if moment is None:
        return "not set"
    zone = policy.provider.timezone if policy is not None else "UTC"
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone})"
