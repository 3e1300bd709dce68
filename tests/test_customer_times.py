"""Every time a customer sees, in the customer's zone and written for people: the
wizard's review ("When did it happen?" too), the filing link's page, the mails, and
staff's `portal tickets show`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.cli import main
from portal.config import Settings
from portal.db.models import Outbox
from portal.tickets import updates
from tests.support.apps import running_portal
from tests.support.forms import post
from tests.support.paths import CONTENT
from tests.support.tickets import file_demo_ticket
from tests.support.wizard import choose, describe

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
HUMAN = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}( \d{4})?, \d\d:\d\d"
DETAILS = {
    "mailbox": "info@lindqvist.example",
    "error_message": "550",
    "occurred_at": "2026-12-01T20:51",
    "doing": "x",
}


@pytest.fixture(scope="module")
def settings(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("customer-times")
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        secret_key="customer-times-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings, run_outbox=False) as application:
        yield application


def mail_bodies(app: Starlette, number: str, purpose: str) -> list[str]:
    with app.state.db.session() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.ticket_number == number, Outbox.purpose == purpose)
        )
        return [r.body for r in rows]


def test_the_review_shows_when_it_happened_for_people(app: Starlette) -> None:
    with TestClient(app) as c:
        describe(c, "my mailbox does not receive mail")
        choose(c, "email-not-working", tz="Asia/Tokyo")
        post(c, "/request/coverage", {})
        r = post(
            c,
            "/request/details",
            {f"detail_{k}": v for k, v in DETAILS.items()} | {"priority": "high"},
        )
        assert r.headers["location"] == "/request/review"
        review = c.get("/request/review").text
    assert "Tue 1 Dec, 20:51 (Asia/Tokyo)" in review
    assert "2026-12-01T20:51" not in review
    due = re.search(r"by <strong>([^<]+)</strong>", review)
    assert due and re.fullmatch(HUMAN + r" \(Asia/Tokyo\)", due.group(1)), due


def test_the_confirmation_mail_in_the_customer_s_zone(app: Starlette, settings: Settings) -> None:
    filed = file_demo_ticket(
        app,
        settings,
        tz="America/New_York",
        details=DETAILS,
        at=dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC),
    )
    (mail,) = mail_bodies(app, filed.number, "confirmation")
    due = re.search(
        r"^First response due: " + HUMAN + r" \(America/New_York\) \(8 business", mail, re.M
    )
    assert due, mail
    assert "When did it happen?: Tue 1 Dec, 20:51 (America/New_York)" in mail
    assert not ISO.search(mail.split("https://", 1)[0]), mail  # no ISO time before the link


def test_a_rejected_emergency_mail_in_the_customer_s_zone(
    app: Starlette, settings: Settings
) -> None:
    filed = file_demo_ticket(
        app,
        settings,
        tz="Asia/Tokyo",
        request_type="mail-server-down",
        details={"server": "mail-1", "error_message": "timeout", "occurred_at": "2026-12-01T20:51"},
        emergency_claimed=True,
        priority="",
    )
    policy = app.state.policy.get()
    updates.reject_emergency(
        app.state.db,
        policy,
        settings,
        filed.number,
        "One mailbox only.",
        now=dt.datetime.now(dt.UTC),
    )
    (mail,) = mail_bodies(app, filed.number, "emergency-rejected")
    due = re.search(r"The first response is due by (.+?)(, that is now)?: ", mail)
    assert due, mail
    assert re.fullmatch(HUMAN + r" \(Asia/Tokyo\)", due.group(1)), mail


def test_tickets_show_gives_the_customer_s_zone(
    app: Starlette, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    filed = file_demo_ticket(
        app,
        settings,
        tz="Asia/Tokyo",
        details=DETAILS,
        at=dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC),
    )
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["tickets", "show", filed.number], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert re.search(r"first response due " + HUMAN + r" \(Asia/Tokyo\)$", first), first
    assert "When did it happen?: Tue 1 Dec 2026, 20:51 (Asia/Tokyo)" in result.output
    assert "  Wed 2 Dec 2026, 18:00 (Asia/Tokyo)  filed open" in result.output
    assert not ISO.search(result.output)
