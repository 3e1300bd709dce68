"""Account ids as customers type them (#13): case, white space and hyphens do not
count when matching the directory; one function (portal.directory.normalise), a table
of cases, and the directory lookup and the anonymous wizard that use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.config import Settings
from portal.db.models import PendingRequest
from portal.directory.importer import find_sender
from portal.directory.normalise import account_key, looks_like_account
from tests.support.apps import running_portal
from tests.support.wizard import prepare_request

KEYS = [
    ("HH-10234", "HH10234"),
    ("hh-10234", "HH10234"),
    ("HH10234", "HH10234"),
    (" hh 10234 ", "HH10234"),
    ("hh – 10234", "HH10234"),  # an en dash, as word processors write it
    ("Hh-10-234", "HH10234"),
    ("\thh\u00a010234\n", "HH10234"),  # a tab, a no-break space, a newline
    ("ab.c_d", "AB.C_D"),  # dots and underscores count
    ("", ""),
    (" - ", ""),
]


@pytest.mark.parametrize(("typed", "key"), KEYS)
def test_account_key(typed: str, key: str) -> None:
    assert account_key(typed) == key


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("HH-10234", True),
        (" hh 10234 ", True),
        ("H", False),
        ("", False),
        ("HH/10234", False),
        ("-HH", True),  # the hyphen does not count: "HH"
        ("x" * 40, True),
        ("x" * 41, False),
        ("<script>", False),
    ],
)
def test_looks_like_account(typed: str, ok: bool) -> None:
    assert looks_like_account(typed) is ok


@pytest.fixture(scope="module")
def app(demo_settings: Settings) -> Iterator[Starlette]:
    with running_portal(demo_settings, run_outbox=False) as application:
        yield application


@pytest.mark.parametrize("typed", ["hh-10234", "HH10234", " hh 10234 ", "hH-1-0234"])
def test_the_directory_finds_the_account_however_it_is_typed(app: Starlette, typed: str) -> None:
    sender = find_sender(app.state.db, typed, "anna@lindqvist.example")
    assert sender is not None and sender.account_id == "HH-10234"
    assert find_sender(app.state.db, typed.replace("1", "7"), "anna@lindqvist.example") is None


def test_a_primary_contact_typing_the_id_in_lower_case_gets_the_filing_link(
    app: Starlette,
) -> None:
    """The issue's case: ``hh-10234`` used to be dropped as an unlisted sender."""
    with TestClient(app) as client:
        r = prepare_request(client, account=" hh 10234 ")
        assert r.status_code == 200 and "Check your email" in r.text
        # the closing message says what to check, without telling which was wrong
        assert "as on your invoice" in r.text and "anna@lindqvist.example" in r.text
    with app.state.db.session() as session:
        pending = session.scalars(
            select(PendingRequest).order_by(PendingRequest.created_at.desc())
        ).first()
        assert pending is not None and pending.listed
        assert pending.account_id == "hh 10234"  # as typed (trimmed); matched by its key
