"""Test objects made one way (one factory per kind), not dicts assembled in each test."""

from __future__ import annotations

import dataclasses
from typing import Any

from portal.wizard.flow import Draft

# the demo directory's primary contact of HH-10234 (examples/accounts.yaml)
DEMO_ACCOUNT = "HH-10234"
DEMO_EMAIL = "anna@lindqvist.example"


def reviewed_draft(**overrides: Any) -> Draft:
    """A draft as the wizard leaves it after the details step: a mail problem of the
    demo's listed primary contact, every step done."""
    draft = Draft(
        text="my mailbox does not receive mail",
        request_type="email-not-working",
        account=DEMO_ACCOUNT,
        email=DEMO_EMAIL,
        plan="standard",
        role="primary",
        tz="Europe/Berlin",
        priority="high",
        details={
            "mailbox": "a@lindqvist.example",
            "error_message": "550",
            "occurred_at": "2026-01-05T09:40",
            "doing": "x",
        },
        done=frozenset({"describe", "choose", "coverage", "details"}),
    )
    return dataclasses.replace(draft, **overrides)
