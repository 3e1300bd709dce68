"""Routing by the exact server (#12): a request about a server goes where the account
directory says that server is, whatever the request type.

The pure resolver (portal/directory/servers.py) as a table, then the H-Sphere reseller
pack over HTTP with a real SMTP server: an upstream server's request reaches the
upstream provider with the server's name and id; the customer's own server stays here
(the issue's web-12 vs web-1 case); an unknown or ambiguous server is picked on the
e-mailed filing link's page (a plain form: no JavaScript), never in the anonymous
wizard."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.build import build
from portal.app import create_app
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Ticket
from portal.directory import importer as accounts
from portal.directory.servers import (
    NONE_OF_THESE,
    DirectoryServer,
    Resolution,
    picker,
    read_pick,
    resolve_server,
    ticket_server,
)
from portal.kb.building import build_options
from tests.support.databases import KINDS, new_database_url
from tests.support.forms import post
from tests.support.mail import BASE_URL, MailServer, body, link_in
from tests.support.paths import EXAMPLES
from tests.support.wizard import prepare_request

# --- the resolver ----------------------------------------------------------------------

WEB12 = DirectoryServer("web-12", "4711", "own")
WEB1 = DirectoryServer("web-1", "1", "upstream")
DB3 = DirectoryServer("DB-3", "8802", "upstream")
NODE1 = DirectoryServer("node 1", "77", "own")  # a name with a space and a digit
WEB4711 = DirectoryServer("web-4711", "9", "own")  # another server's id inside a name
TWIN_A = DirectoryServer("web", "100", "own")  # two servers of one name
TWIN_B = DirectoryServer("web", "200", "upstream")
SLASHED = DirectoryServer("edge", "srv/7", "upstream")  # an id of several tokens
ACCOUNT = (WEB12, WEB1, DB3)

# (servers, text, picked) -> (status, the server found or the candidates)
CASES: list[tuple[str, tuple[DirectoryServer, ...], str, str | None, str, object]] = [
    # the case: web-12 is not web-1, by id and by name
    ("issue: web-12 (id 4711)", ACCOUNT, "web-12 (id 4711)", None, "found", WEB12),
    ("name alone, prefix of none", ACCOUNT, "web-12", None, "found", WEB12),
    ("the shorter name alone", ACCOUNT, "web-1", None, "found", WEB1),
    ("the shorter name, sentence end", ACCOUNT, "please reboot web-1.", None, "found", WEB1),
    ("case-insensitive", ACCOUNT, "db-3 is stuck", None, "found", DB3),
    ("explicit id", ACCOUNT, "id 8802", None, "found", DB3),
    ("explicit id with colon", ACCOUNT, "ID: 4711", None, "found", WEB12),
    ("bare id", ACCOUNT, "4711", None, "found", WEB12),
    ("bare id in brackets", ACCOUNT, "web-12 (4711)", None, "found", WEB12),
    ("explicit id wins over a bare number", ACCOUNT, "id 4711, down 1 hour", None, "found", WEB12),
    ("no substring match", ACCOUNT, "web-123", None, "unknown", None),
    ("id inside a longer number", ACCOUNT, "47110", None, "unknown", None),
    ("empty text", ACCOUNT, "", None, "unknown", None),
    ("only punctuation", ACCOUNT, " -- . ", None, "unknown", None),
    ("no servers at all", (), "web-12", None, "unknown", None),
    ("two names", ACCOUNT, "web-1 and web-12", None, "ambiguous", (WEB1, WEB12)),
    ("name and another server's id", ACCOUNT, "web-1 (id 4711)", None, "ambiguous", (WEB1, WEB12)),
    (
        "a bare number that is another id",
        ACCOUNT,
        "web-12 down 1 hour",
        None,
        "ambiguous",
        (WEB1, WEB12),
    ),
    ("two explicit ids", ACCOUNT, "id 1 or id 8802", None, "ambiguous", (DB3, WEB1)),
    ("an id inside a name is the name", (WEB4711, WEB12), "web-4711", None, "found", WEB4711),
    ("an id inside a spaced name is the name", (NODE1, WEB1), "node 1", None, "found", NODE1),
    ("a name that is a prefix token", (NODE1, WEB1), "node", None, "unknown", None),
    ("two servers of one name", (TWIN_A, TWIN_B), "web", None, "ambiguous", (TWIN_A, TWIN_B)),
    ("one name, the id tells", (TWIN_A, TWIN_B), "web (id 200)", None, "found", TWIN_B),
    ("an id of several tokens", (SLASHED, WEB1), "edge srv/7", None, "found", SLASHED),
    ("picked id", ACCOUNT, "web-1 and web-12", "4711", "found", WEB12),
    ("picked id beats the text", ACCOUNT, "web-1", "8802", "found", DB3),
    ("picked id not on the account", ACCOUNT, "web-1", "9999", "unknown", None),
    ("picked id is exact, not case-folded", (SLASHED,), "", "SRV/7", "unknown", None),
]


@pytest.mark.parametrize(
    ("servers", "text", "picked", "status", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_resolve_server(
    servers: tuple[DirectoryServer, ...],
    text: str,
    picked: str | None,
    status: str,
    expected: object,
) -> None:
    found = resolve_server(servers, text, picked)
    assert found.status == status
    if status == "found":
        assert found.server == expected and found.candidates == ()
    elif status == "ambiguous":
        assert found.server is None and found.candidates == expected
    else:
        assert found == Resolution("unknown")


def test_resolve_server_takes_the_directorys_tuples() -> None:
    tuples = [("web-12", "4711", "own"), ("web-1", "1", "upstream")]
    assert resolve_server(tuples, "web-12 (id 4711)").server == WEB12


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (False, None)),
        ("", (False, None)),
        (NONE_OF_THESE, (True, None)),
        ("id:4711", (False, "4711")),
        ("id:", (False, None)),
        ("4711", (False, None)),  # not a value the picker offers
    ],
)
def test_read_pick(value: str | None, expected: tuple[bool, str | None]) -> None:
    assert read_pick(value) == expected


def test_picker_says_what_to_fix() -> None:
    ambiguous = resolve_server(ACCOUNT, "web-1 and web-12")
    first = picker(ACCOUNT, ambiguous, typed="web-1 and web-12")
    assert "web-1 (id 1), web-12 (id 4711)" in first.intro and first.error == ""
    assert [s.pick_value for s in first.servers] == ["id:8802", "id:1", "id:4711"]
    assert picker(ACCOUNT, ambiguous, submitted=True).error.startswith("Choose one")
    stale = picker(ACCOUNT, Resolution("unknown"), value="id:9999", submitted=True)
    assert "no longer listed" in stale.error and stale.value == "id:9999"
    assert picker(ACCOUNT, None, value=NONE_OF_THESE, submitted=True).error == ""
    assert "“ds-20” is not one of" in picker(ACCOUNT, Resolution("unknown"), typed="ds-20").intro


def test_ticket_server_reads_the_details() -> None:
    assert ticket_server({"Server name": "web-1", "Server id": "1"}) == ("web-1", "1")
    assert ticket_server({"Server name and id": "web-1 (id 1)"}) is None


# --- over HTTP: the H-Sphere reseller pack ------------------------------------------------

PACK = EXAMPLES / "hsphere-reseller"
UPSTREAM = "noc@upstream.example"
LARKSPUR = {"account": "DS-3002", "email": "ops@larkspur.example"}  # web-12 own, web-1 upstream
HARROW = {"account": "DS-3003", "email": "admin@harrowfinch.example"}  # ds-204, ds-205 upstream
NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture(scope="module")
def mailserver() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pack_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reseller-build")
    build(build_options(Settings.from_env(content_dir=PACK, build_dir=out, secret_key="s")))
    return out


@pytest.fixture(params=KINDS, scope="module")
def app(
    request: pytest.FixtureRequest,
    pack_build: Path,
    mailserver: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Starlette]:
    var = tmp_path_factory.mktemp("var")
    with new_database_url(request.param, var) as url:
        settings = Settings.from_env(
            content_dir=PACK,
            build_dir=pack_build,
            database_url=url,
            upload_dir=var / "uploads",
            secret_key="routing-tests",
            allowed_hosts=("testserver",),
            base_url=BASE_URL + "/",
            smtp_url=mailserver.url,
            mail_from="support@reseller.example",
            upstream_email=UPSTREAM,
            rate_limit_address=(100, 3600),
            rate_limit_client=(1000, 3600),
        )
        application = create_app(settings)
        with TestClient(application):
            policy = application.state.policy.get()
            report = accounts.import_file(application.state.db, policy, PACK / "accounts.yaml")
            assert not report.errors, report.errors
            yield application


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _send(
    client: TestClient,
    mailserver: MailServer,
    who: dict[str, str],
    request_type: str,
    server: str,
) -> str:
    """The wizard up to the review, as a browser without JavaScript posts it; returns
    the filing link's token from the mail."""
    before = len(_filing_links(mailserver, who["email"]))
    details = {"detail_server": server, "detail_description": "please"}
    if request_type in ("backup-schedule", "server-reboot"):
        details["detail_preferred_date"] = ""
    page = prepare_request(
        client,
        **who,
        request_type=request_type,
        plan="dedicated",
        role="customer",
        details=details,
        priority="standard",
        accept=True,
    )
    assert page.status_code == 200, page.text
    deadline = time.monotonic() + 15
    while len(links := _filing_links(mailserver, who["email"])) <= before:
        assert time.monotonic() < deadline, mailserver.inbox.summary()
        time.sleep(0.05)
    return links[-1].split("token=", 1)[1]


def _filing_links(mailserver: MailServer, address: str) -> list[str]:
    """The filing links mailed to ``address`` so far (other mails, such as a filed
    ticket's confirmation, may arrive in between)."""
    mails = mailserver.inbox.to(address)
    return [link_in(m) for m in mails if "/request/confirm?token=" in body(m)]


def _ticket(app: Starlette, page: str) -> Ticket:
    match = NUMBER.search(page)
    assert match, page
    db: Database = app.state.db
    with db.session() as session:
        return session.scalars(select(Ticket).where(Ticket.number == match.group(0))).one()


def _upstream_mails(mailserver: MailServer, number: str) -> list[str]:
    """The upstream provider's mails about ticket ``number`` so far: subject and body."""
    return [
        f"{m['Subject']}\n{body(m)}"
        for m in mailserver.inbox.to(UPSTREAM)
        if number in str(m["Subject"])
    ]


def _upstream_mail(mailserver: MailServer, number: str, timeout: float = 15.0) -> str:
    """The upstream provider's mail about ticket ``number``, once it has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _upstream_mails(mailserver, number)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no upstream mail for {number}: {mailserver.inbox.summary()}")


def test_an_upstream_server_goes_upstream_whatever_the_request_type(
    app: Starlette, client: TestClient, mailserver: MailServer
) -> None:
    # backup-schedule has no `routing: upstream` in the policy: the server decides
    token = _send(client, mailserver, LARKSPUR, "backup-schedule", "web-1 (id 1)")
    page = client.get(f"/request/confirm?token={token}")
    assert "web-1 (id 1)" in page.text and "at our upstream provider" in page.text
    assert 'name="server_pick"' not in page.text  # found: nothing to pick
    filed = post(client, "/request/confirm", {"token": token})
    ticket = _ticket(app, filed.text)
    assert ticket.routing == "upstream"
    assert ticket_server(ticket.details) == ("web-1", "1")
    mail = _upstream_mail(mailserver, ticket.number)
    assert "server web-1 (id 1)" in mail and "Server name: web-1" in mail
    assert "Server id: 1" in mail


def test_the_customers_own_server_is_not_forwarded(
    app: Starlette, client: TestClient, mailserver: MailServer
) -> None:
    # the issue: "web-12 (id 4711)" (own) was forwarded as "web-1 (id 1)" (upstream)
    token = _send(client, mailserver, LARKSPUR, "server-reboot", "web-12 (id 4711)")
    filed = post(client, "/request/confirm", {"token": token})
    ticket = _ticket(app, filed.text)
    assert ticket.routing == "own"
    assert ticket_server(ticket.details) == ("web-12", "4711")
    other = _send(client, mailserver, LARKSPUR, "server-reboot", "web-1")
    after = _ticket(app, post(client, "/request/confirm", {"token": other}).text)
    assert "web-1 (id 1)" in _upstream_mail(mailserver, after.number)  # filed later ...
    assert _upstream_mails(mailserver, ticket.number) == []  # ... and none for web-12


def test_an_ambiguous_server_is_picked_on_the_filing_page(
    app: Starlette, client: TestClient, mailserver: MailServer
) -> None:
    token = _send(client, mailserver, HARROW, "server-reboot", "ds-204 or ds-205")
    page = client.get(f"/request/confirm?token={token}")
    assert page.status_code == 200
    # a plain form: radio buttons with labels, the account's servers and "none of these"
    assert '<form method="post"' in page.text
    for value, label in (("id:2204", "ds-204"), ("id:2205", "ds-205"), ("none", "None of")):
        assert f'value="{value}"' in page.text and label in page.text
    assert page.text.count('type="radio" name="server_pick"') == 3
    assert "could mean more than one" in page.text
    # filing waits for the pick: without one, nothing is filed and the page says why
    waiting = post(client, "/request/confirm", {"token": token})
    assert waiting.status_code == 200 and NUMBER.search(waiting.text) is None
    assert (
        "Choose one of the servers below" in waiting.text and 'id="e-server_pick"' in waiting.text
    )
    filed = post(client, "/request/confirm", {"token": token, "server_pick": "id:2205"})
    ticket = _ticket(app, filed.text)
    assert ticket.routing == "upstream" and ticket_server(ticket.details) == ("ds-205", "2205")
    mail = _upstream_mail(mailserver, ticket.number)
    assert "ds-205 (id 2205)" in mail and "ds-204" not in mail.split("\n", 1)[0]


def test_an_unknown_server_can_be_none_of_these(
    app: Starlette, client: TestClient, mailserver: MailServer
) -> None:
    token = _send(client, mailserver, HARROW, "extra-ip", "the old one")
    page = client.get(f"/request/confirm?token={token}")
    assert "“the old one” is not one of your account's servers" in unescape(page.text)
    stale = post(client, "/request/confirm", {"token": token, "server_pick": "id:1101"})
    assert NUMBER.search(stale.text) is None  # another account's server: not a pick
    assert "no longer listed" in stale.text
    filed = post(client, "/request/confirm", {"token": token, "server_pick": NONE_OF_THESE})
    ticket = _ticket(app, filed.text)
    assert ticket.routing == "own" and ticket_server(ticket.details) is None
    assert ticket.details["Server name and id"] == "the old one"  # as the customer wrote it


def test_the_anonymous_wizard_never_shows_an_accounts_servers(client: TestClient) -> None:
    # anyone can type an account id: no step of the wizard, nor its answer, lists the
    # account's servers (they are offered only on the e-mailed filing link's page)
    for email in (HARROW["email"], "stranger@example.com"):
        seen = [client.get("/request").text]
        post(client, "/request", {"text": "please reboot my server"})
        steps = [
            (
                "/request/choose",
                {
                    "request_type": "server-reboot",
                    "account": "DS-3003",
                    "email": email,
                    "plan": "dedicated",
                    "role": "customer",
                    "tz": "Europe/Berlin",
                },
            ),
            ("/request/coverage", {"accept_charges": "yes"}),
            (
                "/request/details",
                {"detail_server": "my server", "detail_description": "x", "priority": "standard"},
            ),
        ]
        for url, data in steps:
            seen.append(client.get(url).text)
            assert post(client, url, data).status_code == 303, url
        seen.append(client.get("/request/review").text)
        seen.append(post(client, "/request/review", {}).text)
        assert "my server" in seen[-2]  # the review shows what was typed ...
        for page in seen:  # ... and never the directory's servers
            assert "ds-204" not in page and "2204" not in page and "ds-205" not in page
