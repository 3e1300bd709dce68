"""The ``portal`` command: reads the server's settings without writing the environment,
takes ``--policy`` where a verb needs one (before or after a ``tickets`` subcommand),
delivers the outbox like the running portal, prints tickets as text or pure JSON, and
hands its settings to ``portal serve``'s worker processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kb.check import check_all
from kb.policy import load_policy
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import PendingRequest
from portal.tickets import outbox
from portal.tickets.filing import file_pending
from tests.support.content import article, write_tree
from tests.support.mail import MailServer
from tests.support.paths import CONTENT, EXAMPLES, ROOT
from tests.support.servers import start_server

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, no proxy
KOLMISOFT = EXAMPLES / "kolmisoft" / "policy.yaml"  # provider: Kolmisoft
ANNA = "anna@lindqvist.example"  # primary contact of HH-10234 (examples/accounts.yaml)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The portal's settings in this process's environment (where the CLI reads them)."""
    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    values = {
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/portal.db",
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PORTAL_SECRET_KEY": "cli-tests",
        "PORTAL_BASE_URL": "https://support.harbor.example/",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def portal(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def mailserver() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


def queue_mail(to: str) -> None:
    db = Database(Settings.from_env().database_url)
    db.upgrade()
    with db.session() as session:
        outbox.enqueue_email(session, to, "Hello", "Body.", purpose="test")
    db.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "--policy", str(KOLMISOFT), "outbox"),
        ("tickets", "outbox", "--policy", str(KOLMISOFT), "--deliver"),
        ("check", "--content", str(CONTENT), "--policy", str(CONTENT / "policy.yaml")),
        (
            "accounts",
            "import",
            str(EXAMPLES / "accounts.yaml"),
            "--policy",
            str(CONTENT / "policy.yaml"),
        ),
    ],
)
def test_verbs_leave_the_environment_alone(env: dict[str, str], args: tuple[str, ...]) -> None:
    before = dict(os.environ)
    result = portal(*args)
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == before


def test_a_bad_setting_is_named_not_a_traceback(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_STALE_DAYS", "a year")
    result = CliRunner().invoke(main, ["check", "--stale"])
    assert result.exit_code == 1 and result.exception is not None
    assert "Error: PORTAL_STALE_DAYS='a year' is not valid" in result.output
    assert "the default is '365'" in result.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_outbox_deliver_takes_the_policy_before_or_after_the_subcommand(
    env: dict[str, str], mailserver: MailServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Delivered like the running portal delivers (``outbox.deliverer_for``): the sender
    is named after the provider of the policy given."""
    monkeypatch.setenv("PORTAL_SMTP_URL", mailserver.url)
    queue_mail("someone@example.com")
    policy = ["--policy", str(KOLMISOFT)]
    args = ["tickets", *policy, "outbox", "--deliver"]
    if where == "after":
        args = ["tickets", "outbox", "--deliver", *policy]
    result = portal(*args)
    assert result.exit_code == 0, result.output
    assert "delivered 1, failed 0" in result.output
    [message] = mailserver.inbox.wait_for("someone@example.com")
    assert str(message["From"]) == "Kolmisoft support <support@localhost>"


def test_tickets_show_prints_text_or_one_json_object(env: dict[str, str]) -> None:
    assert portal("accounts", "import", str(EXAMPLES / "accounts.yaml")).exit_code == 0
    number = _file_a_ticket(text="mail stopped \x1b[2J arriving")

    text = portal("tickets", "show", number)
    assert text.exit_code == 0, text.output
    assert text.output.startswith(f"{number}  open  priority high")
    assert "contact:      " in text.output and f"<{ANNA}>" in text.output
    assert "mail stopped  [2J arriving" in text.output  # no escape reaches the terminal
    assert "history:\n" in text.output and " filed " in text.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.output)

    as_json = portal("tickets", "show", number, "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)  # the whole output is one object
    assert (data["number"], data["account"], data["status"]) == (number, "HH-10234", "open")
    assert data["text"] == "mail stopped \x1b[2J arriving"  # exact, escaped as JSON
    assert "\x1b" not in as_json.output
    assert [e["kind"] for e in data["events"]][:1] == ["filed"]


def _file_a_ticket(*, text: str) -> str:
    settings = Settings.from_env()
    policy, problems = load_policy(settings.policy_file)
    assert policy is not None and problems == []
    db = Database(settings.database_url)
    pending_id = secrets.token_urlsafe(16)
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id="HH-10234",
                email=ANNA,
                data={
                    "text": text,
                    "request_type": "email-not-working",
                    "account": "HH-10234",
                    "email": ANNA,
                    "tz": "Europe/Berlin",
                    "details": {"mailbox": "info@lindqvist.example", "error_message": "550"},
                    "priority": "high",
                    "emergency_claimed": False,
                },
                client="test",
                listed=True,
                created_at=now,
            )
        )
    filing = file_pending(db, policy, settings, pending_id, accepted_now=False, now=now)
    db.dispose()
    assert filing is not None and filing.ticket is not None
    return filing.ticket.number


def test_outbox_lists_without_a_policy(env: dict[str, str], tmp_path: Path) -> None:
    """Only --deliver needs the policy (for the sender's name)."""
    queue_mail("someone@example.com")
    missing = str(tmp_path / "no-policy.yaml")
    listed = portal("tickets", "outbox", "--policy", missing)
    assert listed.exit_code == 0 and "someone@example.com" in listed.output
    delivered = CliRunner().invoke(main, ["tickets", "outbox", "--deliver", "--policy", missing])
    assert delivered.exit_code == 1 and f"no policy file at {missing}" in delivered.output


def test_check_all_finds_stale_articles_as_of_a_day(tmp_path: Path) -> None:
    tree = write_tree(
        tmp_path / "content",
        {
            "articles/help/_category.yaml": "title: Help\n",
            "articles/help/old.md": article("Old", "An old one.", updated="2020-01-01"),
        },
    )
    policy = tree / "policy.yaml"  # none: the policy's checks are skipped
    fresh = check_all(tree, policy, stale_days=60, today=dt.date(2020, 3, 1))
    assert (fresh.problems, fresh.plans) == ([], None)
    assert fresh.summary() == "ok: 1 articles, 1 categories"
    stale = check_all(tree, policy, stale_days=59, today=dt.date(2020, 3, 1))
    assert [str(p) for p in stale.problems] == [
        f"{tree}/articles/help/old.md:4: stale: last updated 2020-01-01 (60 days ago); "
        "review it and bump 'updated'"
    ]
    assert check_all(tree, policy, today=dt.date(2030, 1, 1)).problems == []  # not asked


def test_serve_hands_its_options_to_every_worker(env: dict[str, str], tmp_path: Path) -> None:
    """``portal serve --content --out --workers 2``: each worker process reads the
    content and build directory given on the command line (two articles, not the demo's)."""
    content = write_tree(
        tmp_path / "tiny",
        {
            "articles/help/_category.yaml": "title: Help\n",
            "articles/help/one.md": article("One", "The first."),
            "articles/help/two.md": article("Two", "The second."),
        },
    )
    shutil.copy(CONTENT / "policy.yaml", content / "policy.yaml")
    out = tmp_path / "tiny-build"
    built = portal("build", "--content", str(content), "--out", str(out))
    assert built.exit_code == 0, built.output

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "portal",
            "serve",
            "--content",
            str(content),
            "--out",
            str(out),
            "--port",
            str(port),
            "--workers",
            "2",
        ]

    with start_server({}, command=command, cwd=ROOT) as server:
        for _ in range(6):
            with DIRECT.open(server.url + "/healthz", timeout=10) as response:
                assert json.loads(response.read())["articles"] == 2
