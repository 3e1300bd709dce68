"""Known incidents and planned maintenance (#15 item 7): which open incidents match a
customer's words, server and request type (pure, by table); /status, the home banner
and the wizard showing a match first with "Tell me when it's fixed" (the same answer
for anyone, recorded only for listed contacts, mailed once when resolved); planned
maintenance mailed once to the affected accounts' contacts; an emergency claim during
a matching incident attached to it and not counted as abuse; the CLI and staff pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.policy.engine import EMERGENCY_KNOWN_INCIDENT, gate_emergency
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import IncidentSubscription, Notice, Outbox, StaffAudit, Ticket
from portal.incidents import store
from portal.incidents.matching import (
    IncidentFacts,
    RequestFacts,
    is_open,
    is_planned,
    match_reason,
    matching,
    parse_list,
    request_type_words,
)
from portal.notices import drain
from portal.ratelimit import DatabaseLimiter
from portal.tickets import updates
from portal.tickets.queries import rejected_emergency_claims
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.forms import post
from tests.support.paths import CONTENT
from tests.support.staff import add_staff, csrf_of, file_ticket, sign_in

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
OKAFOR = "HH-20417"  # web-12 (4711) and db-3 (8802); it@okafor.example is primary
ANNA = "anna@lindqvist.example"  # HH-10234, no servers


def demo_policy() -> Policy:
    policy, problems = load_policy(CONTENT / "policy.yaml")
    assert policy is not None and problems == []
    return policy


# --- matching (pure) ---------------------------------------------------------------------

WEB12 = IncidentFacts(1, "web-12 does not answer", "investigating", servers=("web-12", "4711"))
MAIL = IncidentFacts(2, "Mail delivery is delayed", "identified", services=("email", "mail"))
DNS = IncidentFacts(3, "DNS changes are slow", "monitoring", services=("name servers",))
MAIL_TYPE = request_type_words(
    "email-not-working", "A mailbox is not working", "hosting", ("mail bounces",)
)
WEB_TYPE = request_type_words("website-not-loading", "A website is not loading", "hosting")


@pytest.mark.parametrize(
    ("incident", "facts", "reason"),
    [
        # the same server, by name or id, chosen or named in the text
        (WEB12, RequestFacts(servers=("web-12",)), "server web-12"),
        (WEB12, RequestFacts(servers=("4711",)), "server 4711"),
        (WEB12, RequestFacts(servers=("WEB-12",)), "server web-12"),
        (WEB12, RequestFacts(text="Our site on web-12 is down since 9:00"), "server web-12"),
        (WEB12, RequestFacts(text="server 4711 is unreachable"), "server 4711"),
        # a longer or shorter name is another server
        (WEB12, RequestFacts(text="web-123 is slow"), ""),
        (WEB12, RequestFacts(servers=("web-1",)), ""),
        (
            IncidentFacts(4, "t", "investigating", servers=("web-1",)),
            RequestFacts("web-12 down"),
            "",
        ),
        # a service in the words, as a whole word (plural allowed), or the type's service
        (MAIL, RequestFacts(text="our email stopped this morning"), "service email"),
        (MAIL, RequestFacts(text="EMAILS bounce"), "service email"),
        (MAIL, RequestFacts(text="emailing a client fails"), ""),
        (MAIL, RequestFacts(text="it is broken", request_type_words=MAIL_TYPE), "service email"),
        (MAIL, RequestFacts(text="it is broken", request_type_words=WEB_TYPE), ""),
        (DNS, RequestFacts(text="the name  servers do not update"), "service name servers"),
        (DNS, RequestFacts(text="my server is down"), ""),
        # nothing said yet
        (MAIL, RequestFacts(), ""),
    ],
)
def test_which_incident_matches_a_request(
    incident: IncidentFacts, facts: RequestFacts, reason: str
) -> None:
    assert match_reason(incident, facts) == reason


START = NOW + dt.timedelta(days=3)
WINDOW = IncidentFacts(
    5,
    "Kernel updates",
    "investigating",
    "maintenance",
    ("web",),
    (),
    START,
    START + dt.timedelta(hours=2),
)


@pytest.mark.parametrize(
    ("incident", "at", "open_now", "planned"),
    [
        (MAIL, NOW, True, False),
        (IncidentFacts(2, "t", "resolved", services=("email",)), NOW, False, False),
        (WINDOW, NOW, False, True),  # ahead: shown as planned, matches nothing yet
        (WINDOW, START, True, False),  # running: open
        (WINDOW, START + dt.timedelta(hours=2), False, False),  # over
    ],
)
def test_open_and_planned(
    incident: IncidentFacts, at: dt.datetime, open_now: bool, planned: bool
) -> None:
    assert (is_open(incident, at), is_planned(incident, at)) == (open_now, planned)
    expected = [incident.id] if open_now else []
    found = matching([incident], RequestFacts(text="web email"), at)
    assert [m.incident.id for m in found] == expected


def test_lists_from_forms_are_trimmed_and_deduplicated() -> None:
    assert parse_list(" email, Email ,,web  server ,") == ("email", "web server")


def test_a_claim_the_definition_refuses_is_attached_during_an_incident() -> None:
    policy = demo_policy()
    plain = gate_emergency(policy, "email-not-working", "standard", "high", claimed=True, now=NOW)
    during = gate_emergency(
        policy, "email-not-working", "standard", "high", claimed=True, now=NOW, incident="Mail"
    )
    assert plain.counts_as_rejected and plain.outcome == "rejected_not_emergency"
    assert during.outcome == EMERGENCY_KNOWN_INCIDENT and not during.counts_as_rejected
    assert (during.accepted, during.priority) == (False, plain.priority)
    assert "“Mail”" in during.explanation and "does not count" in during.explanation


# --- the database side, on SQLite and PostgreSQL -------------------------------------------


@pytest.fixture(params=KINDS)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, demo_build: Path
) -> Iterator[Settings]:
    with new_database_url(request.param, tmp_path) as url:
        yield Settings.from_env(
            content_dir=CONTENT,
            policy_file=CONTENT / "policy.yaml",
            build_dir=demo_build,
            database_url=url,
            upload_dir=tmp_path / "uploads",
            secret_key="incident-tests",
            base_url="https://support.harbor.example/",
            allowed_hosts=("testserver",),
        )


@pytest.fixture
def portal(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings, run_outbox=False) as app:
        yield app


@pytest.fixture
def db(portal: Starlette) -> Database:
    database: Database = portal.state.db
    return database


def mails(db: Database, purpose: str) -> list[Outbox]:
    with db.session() as session:
        return list(
            session.scalars(select(Outbox).where(Outbox.purpose == purpose).order_by(Outbox.id))
        )


def test_resolving_mails_each_listed_subscriber_once(db: Database, settings: Settings) -> None:
    policy = demo_policy()
    view = store.add(db, title="Mail delivery is delayed", services=("email",), author="t", now=NOW)
    assert store.subscribe(db, view.id, account="HH-10234", email=ANNA, now=NOW)
    assert (
        store.subscribe(db, view.id, account="hh 10234", email="ANNA@lindqvist.example", now=NOW)
        is False
    )
    # an address that is not a contact of that account is not recorded (the page says
    # the same, see below)
    assert (
        store.subscribe(db, view.id, account="HH-10234", email="it@okafor.example", now=NOW)
        is False
    )
    assert store.subscribe(db, view.id, account="HH-99999", email=ANNA, now=NOW) is False
    assert count(db, IncidentSubscription) == 1
    store.update(
        db, view.id, text="A relay is overloaded.", status="identified", author="t", now=NOW
    )
    assert drain.drain_all(db, policy, settings, now=NOW).sent == 0  # nothing until resolved
    store.resolve(db, view.id, text="Queues are empty again.", author="t", now=NOW)
    with pytest.raises(store.IncidentError, match="already resolved"):
        store.resolve(db, view.id, author="t", now=NOW)
    assert drain.drain_all(db, policy, settings, now=NOW).sent == 1
    assert drain.drain_all(db, policy, settings, now=NOW).sent == 0  # once
    [sent] = mails(db, "notice-incident_resolved")
    assert sent.recipient == ANNA and sent.subject == "Fixed: Mail delivery is delayed"
    assert "Queues are empty again." in sent.body
    assert "https://support.harbor.example/request" in sent.body
    # a resolved incident takes no more subscriptions
    assert (
        store.subscribe(db, view.id, account="HH-10234", email="dev@lindqvist.example", now=NOW)
        is False
    )


def test_planned_maintenance_is_mailed_once_to_the_affected_accounts(
    db: Database, settings: Settings
) -> None:
    policy = demo_policy()
    start = NOW + dt.timedelta(days=2)
    store.add(
        db,
        title="Kernel update on web-12",
        kind="maintenance",
        servers=("web-12",),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        text="Sites on web-12 are down for up to 10 minutes.",
        author="t",
        now=NOW,
    )
    assert drain.drain_all(db, policy, settings, now=NOW).sent == 4  # Okafor's 4 contacts
    assert drain.drain_all(db, policy, settings, now=NOW + dt.timedelta(hours=1)).sent == 0
    sent = mails(db, "notice-maintenance")
    assert sorted(m.recipient for m in sent) == sorted(
        [
            "it@okafor.example",
            "chidi.okafor@mail.example",
            "ops1@okafor.example",
            "ops2@okafor.example",
        ]
    )
    assert "Fri 4 Dec 2026, 11:00 (Europe/Berlin)" in sent[0].body  # 10:00 UTC
    assert "up to 10 minutes" in sent[0].body
    with pytest.raises(store.IncidentError, match="start and its end"):
        store.add(db, title="x", kind="maintenance", services=("web",), author="t", now=NOW)
    with pytest.raises(store.IncidentError, match="services or servers"):
        store.add(db, title="x", author="t", now=NOW)


def test_an_emergency_claim_during_a_matching_incident_is_attached_and_not_counted(
    db: Database, settings: Settings
) -> None:
    policy = demo_policy()
    before = file_ticket(
        db, policy, settings, email=ANNA, request_type="email-not-working", at=NOW, emergency=True
    )
    assert before.emergency_outcome == "rejected_not_emergency" and before.incident_id is None
    assert len(rejected_emergency_claims(db, "HH-10234")) == 1
    view = store.add(
        db, title="Mail delivery is delayed", services=("mailbox",), author="t", now=NOW
    )
    at = NOW + dt.timedelta(minutes=5)
    during = file_ticket(
        db, policy, settings, email=ANNA, request_type="email-not-working", at=at, emergency=True
    )
    assert (during.emergency_outcome, during.incident_id) == (EMERGENCY_KNOWN_INCIDENT, view.id)
    # an accepted claim about the incident's server: attached too; staff rejecting it
    # later does not count either
    web = store.add(db, title="web-12 is down", servers=("4711",), author="t", now=at)
    down = file_ticket(
        db,
        policy,
        settings,
        account=OKAFOR,
        email="it@okafor.example",
        request_type="server-down",
        at=at,
        emergency=True,
    )
    assert (down.emergency_outcome, down.incident_id) == ("accepted", web.id)
    updates.reject_emergency(db, policy, settings, down.number, "Known outage.", now=at)
    assert rejected_emergency_claims(db, OKAFOR) == []
    assert len(rejected_emergency_claims(db, "HH-10234")) == 1  # only the one before
    # without a claim nothing is attached
    quiet = file_ticket(db, policy, settings, email=ANNA, request_type="email-not-working", at=at)
    assert quiet.incident_id is None


# --- pages ---------------------------------------------------------------------------------


def test_status_page_home_banner_and_wizard_show_the_incident(
    portal: Starlette, db: Database
) -> None:
    now = dt.datetime.now(dt.UTC)
    view = store.add(
        db,
        title="Mail delivery is delayed <b>",
        services=("email",),
        text="We are looking into it.",
        author="t",
        now=now,
    )
    start = now + dt.timedelta(days=1)
    store.add(
        db,
        title="Kernel update",
        kind="maintenance",
        services=("web",),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        author="t",
        now=now,
    )
    with TestClient(portal) as client:
        status = client.get("/status")
        assert status.status_code == 200 and status.headers["cache-control"] == "no-store"
        assert "Mail delivery is delayed &lt;b&gt;" in status.text  # escaped
        assert "We are looking into it." in status.text
        assert "Planned maintenance" in status.text and "Kernel update" in status.text
        assert (
            "Tell me when it&#39;s fixed" in status.text or "Tell me when it's fixed" in status.text
        )
        home = client.get("/")
        assert "Service status" in home.text and "Mail delivery is delayed &lt;b&gt;" in home.text
        assert "Planned maintenance: <strong>Kernel update</strong>" in home.text
        # the wizard: a matching description shows it first, with the subscribe form
        r = post(client, "/request", {"text": "our email bounces since 9:00"})
        assert r.status_code == 303
        choose = client.get("/request/choose")
        assert "This looks like a problem we already know about" in choose.text
        assert f'action="/status/{view.id}/subscribe"' in choose.text
        assert choose.text.index("already know about") < choose.text.index("Request type")
        live = post(client, "/request/suggest", {"text": "email is down"})
        assert "already know about" in live.text
        other = post(client, "/request/suggest", {"text": "my invoice is wrong"})
        assert "already know about" not in other.text
        # the same answer for a listed contact and anyone else; only the listed one counts
        token = csrf_of(status.text)
        answers = []
        for email in (ANNA, "stranger@example.com"):
            r = client.post(
                f"/status/{view.id}/subscribe",
                data={"csrf_token": token, "account": "HH-10234", "email": email},
            )
            assert r.status_code == 200
            answers.append(r.text.replace(email, "EMAIL"))
        assert answers[0] == answers[1] and "we will e-mail it" in answers[0]
        assert count(db, IncidentSubscription) == 1
        # a form without CSRF changes nothing; an empty field says what to fix, keeps the rest
        assert (
            client.post(
                f"/status/{view.id}/subscribe", data={"account": "HH-10234", "email": ANNA}
            ).status_code
            == 403
        )
        bad = client.post(
            f"/status/{view.id}/subscribe", data={"csrf_token": token, "account": "", "email": ANNA}
        )
        assert bad.status_code == 422 and "Enter your account id" in bad.text and ANNA in bad.text
        store.resolve(db, view.id, author="t", now=now)
        home = client.get("/")
        assert "Mail delivery is delayed" not in home.text and "Kernel update" in home.text


def test_subscribing_is_rate_limited_per_address_and_per_client(settings: Settings) -> None:
    """ "Tell me when it's fixed" counts like filing (``PORTAL_RATE_LIMITS``): per address
    and per client, every attempt, before anything is looked up, so the limited answer is
    the same for a listed contact and a stranger, keeps what was typed, and records
    nothing."""
    limited = dataclasses.replace(
        settings, rate_limit_address=(2, 3600), rate_limit_client=(6, 3600)
    )
    with running_portal(limited, run_outbox=False) as app, TestClient(app) as client:
        db: Database = app.state.db
        view = store.add(db, title="Mail is slow", services=("email",), author="t", now=NOW)
        other = store.add(db, title="DNS is slow", services=("dns",), author="t", now=NOW)
        token = csrf_of(client.get("/status").text)

        def ask(email: str, incident: int = view.id) -> tuple[int, str]:
            r = client.post(
                f"/status/{incident}/subscribe",
                data={"csrf_token": token, "account": "HH-10234", "email": email},
            )
            return r.status_code, r.text.replace(email, "EMAIL")

        answers: dict[str, list[tuple[int, str]]] = {}
        for email in (ANNA, "stranger@example.com"):  # a listed contact, then anyone
            answers[email] = [ask(email) for _ in range(3)]
        listed, stranger = answers[ANNA], answers["stranger@example.com"]
        assert [s for s, _ in listed] == [s for s, _ in stranger] == [200, 200, 429]
        assert listed == stranger  # word for word: being limited tells nothing
        assert "Too many requests" in listed[2][1] and "we will e-mail it" not in listed[2][1]
        assert 'value="EMAIL"' in listed[2][1] and 'value="HH-10234"' in listed[2][1]
        # the address stays limited for another incident: nothing is looked up or recorded
        assert ask(ANNA, other.id)[0] == 429
        assert count(db, IncidentSubscription) == 1
        # per client: new addresses from the same client, until its limit
        assert [ask(f"x{i}@example.com")[0] for i in range(3)] == [200, 200, 429]
        # htmx gets the form back in place with the same words
        r = client.post(
            f"/status/{view.id}/subscribe",
            data={"csrf_token": token, "account": "HH-10234", "email": "y@example.com"},
            headers={"HX-Request": "true"},
        )
        assert r.status_code == 429 and "Too many requests" in r.text and "<html" not in r.text
    with pytest.raises(store.Throttled):  # the store refuses when its limiter says no
        store.subscribe(
            db,
            view.id,
            account="HH-10234",
            email=ANNA,
            now=NOW,
            limiter=DatabaseLimiter("k", (0, 3600), (10, 3600)),
            client="c",
        )


def test_without_incidents_the_home_page_is_the_built_page(portal: Starlette) -> None:
    with TestClient(portal) as client:
        home = client.get("/")
        assert home.status_code == 200 and "Service status" not in home.text
        assert "No known incidents right now" in client.get("/status").text


# --- CLI and staff console ------------------------------------------------------------------


def test_incidents_by_cli(settings: Settings, portal: Starlette, db: Database) -> None:
    env = {
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_SECRET_KEY": "incident-tests",
    }
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["incidents", "add", "Mail is slow", "--services", "email, mail", "--text", "Looking."],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert added.output.startswith("incident 1 posted: Mail is slow (Investigating)")
    bad = runner.invoke(main, ["incidents", "add", "No scope"], env=env)
    assert bad.exit_code == 1 and "Name the affected services or servers" in bad.output
    upd = runner.invoke(
        main, ["incidents", "update", "1", "--status", "identified", "--text", "Relay."], env=env
    )
    assert upd.exit_code == 0 and "Identified" in upd.output
    listed = runner.invoke(main, ["incidents", "list", "--json"], env=env)
    [row] = json.loads(listed.output)
    assert (row["status"], row["services"]) == ("identified", ["email", "mail"])
    assert [u["text"] for u in row["updates"]] == ["Relay.", "Looking."]
    done = runner.invoke(main, ["incidents", "resolve", "1", "--text", "Fixed."], env=env)
    assert done.exit_code == 0 and "resolved" in done.output
    assert runner.invoke(main, ["incidents", "list"], env=env).output.strip() == "no incidents"
    assert runner.invoke(main, ["incidents", "resolve", "7"], env=env).exit_code == 1


def test_staff_post_update_and_resolve_incidents(
    settings: Settings, portal: Starlette, db: Database
) -> None:
    add_staff(db, settings, "agent@harbor.example")
    with TestClient(portal) as client:
        # not signed in: the sign-in page
        r = client.get("/staff/incidents", follow_redirects=False)
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]
        assert sign_in(client, "agent@harbor.example").status_code == 303
        page = client.get("/staff/incidents")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        token = csrf_of(page.text)
        form = {
            "csrf_token": token,
            "title": "Mail is slow",
            "kind": "incident",
            "status": "investigating",
        }
        missing = client.post("/staff/incidents", data=form)
        assert missing.status_code == 422 and "Name the affected services" in missing.text
        assert 'value="Mail is slow"' in missing.text  # what was typed is kept
        r = client.post(
            "/staff/incidents",
            data={**form, "services": "email", "text": "Looking."},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].endswith("?done=added")
        incident = client.get(r.headers["location"])
        assert "The incident was posted" in incident.text and "Looking." in incident.text
        path = r.headers["location"].split("?")[0]
        r = client.post(
            path,
            data={"csrf_token": csrf_of(incident.text), "status": "resolved", "text": "Fixed."},
        )
        assert "The incident was resolved" in r.text
        assert client.post(path, data={"status": "monitoring"}).status_code == 403  # no CSRF
    with db.session() as session:
        actions = list(session.scalars(select(StaffAudit.action)))
    assert "incident_added" in actions and "incident_resolved" in actions
    resolved = store.get(db, 1)
    assert resolved is not None and resolved.status == "resolved"


def test_notices_rows_of_incidents_are_unique(db: Database) -> None:
    view = store.add(db, title="Mail", services=("email",), author="t", now=NOW)
    store.subscribe(db, view.id, account="HH-10234", email=ANNA, now=NOW)
    store.resolve(db, view.id, author="t", now=NOW)
    with db.session() as session:
        assert not store.schedule(
            session,
            key=f"resolved:{view.id}:{ANNA}",
            kind="incident_resolved",
            recipient=ANNA,
            account_id="HH-10234",
            incident_id=view.id,
            now=NOW,
        )
    assert count(db, Notice) == 1
    with db.session() as session:
        assert session.scalar(select(Ticket.id)) is None
