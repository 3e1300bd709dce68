"""A newcomer's first run: `make run` imports the demo accounts (idempotent) and says
which e-mail to use, as README's first screen does; `portal serve --port P` mails links
to port P, and so does mail that another verb sends for the same database (the address
served is recorded in it); the settings file is read by the server and every verb;
console mail is printed decoded, the filing link whole, and it opens the filing page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import select

from portal import served
from portal.app import create_app
from portal.config import SettingError, Settings, read_settings_file, served_url
from portal.db.engine import Database
from portal.db.models import Outbox
from tests.support.databases import KINDS, new_database_url
from tests.support.factories import DEMO_ACCOUNT, DEMO_EMAIL
from tests.support.forms import post
from tests.support.paths import CONTENT, ROOT
from tests.support.servers import LiveServer, free_port, start_server
from tests.support.tickets import file_demo_ticket
from tests.support.wizard import MAILBOX_DETAILS

MAIL_START = "----- mail (console: PORTAL_SMTP_URL is not set)"
MAIL_END = "----- end of mail"
SITE_NAME = "First Run Help"  # from the settings file only


@pytest.fixture(scope="module")
def env(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    var = tmp_path_factory.mktemp("first-run")
    settings_file = var / "portal.env"
    settings_file.write_text(
        f"# read by portal serve and every verb\n\nPORTAL_SITE_NAME={SITE_NAME}\n"
    )
    return {
        "PORTAL_SETTINGS_FILE": str(settings_file),
        "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
        "PORTAL_UPLOAD_DIR": str(var / "uploads"),
        "PORTAL_BUILD_DIR": str(demo_build),
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_SECRET_KEY": "first-run-secret",
        "PORTAL_SMTP_URL": "",  # mail to the console
        "PORTAL_BASE_URL": "",
    }


def portal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        env={**full, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("first-run-log") / "server.log"
    yield path


@pytest.fixture(scope="module")
def server(env: dict[str, str], output: Path) -> Iterator[LiveServer]:
    imported = portal(env, "accounts", "import", "examples/accounts.yaml")
    assert imported.returncode == 0, imported.stderr
    again = portal(env, "accounts", "import", "examples/accounts.yaml")
    assert again.returncode == 0 and "0 created" in again.stdout, again.stdout

    def command(port: int) -> list[str]:
        # PORTAL_PORT unset: the port comes from --port alone
        return ["env", "-u", "PORTAL_PORT", sys.executable, "-m", "portal", "serve",
                "--port", str(port)]  # fmt: skip

    with output.open("w+b") as log, start_server(env, command=command, output=log) as live:
        yield live


def mails(output: Path) -> list[str]:
    text = output.read_text("utf-8", "replace")
    return re.findall(re.escape(MAIL_START) + r".*?" + re.escape(MAIL_END), text, re.S)


def test_the_printed_filing_link_is_whole_and_opens_the_filing_page(
    server: LiveServer, output: Path
) -> None:
    with httpx.Client(base_url=server.url) as c:
        post(c, "/request", {"text": "my mailbox does not receive mail"})
        post(
            c,
            "/request/choose",
            {
                "request_type": "email-not-working",
                "account": DEMO_ACCOUNT,
                "email": DEMO_EMAIL,
                "plan": "standard",
                "role": "primary",
                "tz": "Europe/Berlin",
            },
        )
        post(c, "/request/coverage", {})
        details = post(c, "/request/details", {**MAILBOX_DETAILS, "priority": "high"})
        assert details.headers["location"] == "/request/review"
        sent = post(c, "/request/review", {})
        assert "Check your email" in sent.text
        found: list[str] = []
        for _ in range(100):  # the outbox worker prints it within moments
            found = [m for m in mails(output) if f"To: {DEMO_EMAIL}" in m]
            if found:
                break
            time.sleep(0.1)
        assert found, output.read_text("utf-8", "replace")[-2000:]
        mail = found[-1]
        assert "Content-Transfer-Encoding" not in mail and "=3D" not in mail
        assert "Subject: Confirm your support request: A mailbox is not working" in mail
        # the link whole on one line, to the port given with --port
        link = re.search(r"^(http://127\.0\.0\.1:(\d+)/request/confirm\?token=\S+)$", mail, re.M)
        assert link, mail
        assert int(link.group(2)) == int(server.url.rsplit(":", 1)[1])
        page = c.get(link.group(1))
    assert page.status_code == 200
    assert "File your request" in page.text


def test_base_url_follows_the_address_served() -> None:
    settings = Settings.from_env({})
    assert settings.base_url == "http://127.0.0.1:8000/"
    assert settings.serving(None, 8123).base_url == "http://127.0.0.1:8123/"
    assert settings.serving("0.0.0.0", 8123).base_url == "http://127.0.0.1:8123/"
    assert Settings.from_env({"PORTAL_PORT": "9001"}).base_url == "http://127.0.0.1:9001/"
    chosen = Settings.from_env({"PORTAL_BASE_URL": "https://help.example"})
    assert chosen.serving(None, 8123).base_url == "https://help.example/"
    assert served_url("::1", 80) == "http://[::1]:80/"
    # what serve hands to its workers reads back the same
    served = settings.serving(None, 8123)
    assert Settings.from_env(served.to_environ()).base_url == "http://127.0.0.1:8123/"


def test_make_run_imports_the_demo_accounts_and_names_the_demo_address() -> None:
    # what `make run` would do (make -n prints the commands without running them)
    run = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "portal accounts import examples/accounts.yaml" in run
    assert f"Demo: file a request as {DEMO_EMAIL} (account {DEMO_ACCOUNT}" in run
    first_screen = (ROOT / "README.md").read_text("utf-8").split("![", 1)[0]
    assert DEMO_EMAIL in first_screen and DEMO_ACCOUNT in first_screen


def _status_mail(env: dict[str, str], number: str) -> str:
    """The body of the newest status mail queued for ticket ``number``."""
    db = Database(env["PORTAL_DATABASE_URL"])
    try:
        with db.session() as session:
            body = session.scalars(
                select(Outbox.body)
                .where(Outbox.ticket_number == number, Outbox.kind == "email")
                .order_by(Outbox.id.desc())
            ).first()
    finally:
        db.dispose()
    assert body is not None
    return body


def _file_ticket(env: dict[str, str]) -> str:
    """A ticket filed in the served database (in-process, as the filing link does)."""
    settings = Settings.from_env(env)
    app = create_app(settings)
    try:
        return file_demo_ticket(app, settings).number
    finally:
        app.state.db.dispose()


def test_mail_a_verb_sends_links_to_the_address_served(
    server: LiveServer, env: dict[str, str]
) -> None:
    """`portal serve --port P` without PORTAL_BASE_URL, then a verb run without
    PORTAL_PORT or PORTAL_BASE_URL: its mail links to port P, not to the default 8000."""
    assert served.recorded(Settings.from_env(env)) == f"http://127.0.0.1:{server.port}/"
    number = _file_ticket(env)
    changed = portal(env, "tickets", "set-status", number, "in_progress", "--note", "On it.")
    assert changed.returncode == 0, changed.stderr
    link = re.search(
        r"(http://[^/\s]+)/tickets/" + re.escape(number) + r"\?token=\S+", _status_mail(env, number)
    )
    assert link, _status_mail(env, number)
    assert link.group(1) == f"http://127.0.0.1:{server.port}"
    with httpx.Client() as c:  # and it opens the ticket's page on that server
        assert c.get(link.group(0)).status_code == 200


def test_a_verbs_own_base_url_wins_over_the_address_served(
    server: LiveServer, env: dict[str, str], tmp_path: Path
) -> None:
    """PORTAL_BASE_URL, from the verb's settings file or its environment (which wins
    over the file), names where its mail links."""
    own_file = tmp_path / "portal.env"
    own_file.write_text("PORTAL_BASE_URL='https://help.from-file.example'\n")
    number = _file_ticket(env)
    for extra, expected in (
        ({"PORTAL_SETTINGS_FILE": str(own_file)}, "https://help.from-file.example/"),
        (
            {"PORTAL_SETTINGS_FILE": str(own_file), "PORTAL_BASE_URL": "https://env.example"},
            "https://env.example/",
        ),
    ):
        done = portal({**env, **extra}, "tickets", "set-status", number, "waiting_for_customer")
        assert done.returncode == 0, done.stderr
        assert f"{expected}tickets/{number}?token=" in _status_mail(env, number), extra
        reset = portal({**env, **extra}, "tickets", "set-status", number, "in_progress")
        assert reset.returncode == 0, reset.stderr


def test_the_server_reads_the_settings_file(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        page = c.get("/request")
    assert page.status_code == 200
    assert f'class="brand" href="/">{SITE_NAME}</a>' in page.text or SITE_NAME in page.text


def test_an_unknown_setting_stops_the_server_and_every_verb_with_its_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "portal.env"
    bad.write_text("# a typo on line 3\nPORTAL_SITE_NAME=Help\nPORTAL_PROT=8123\n")
    expected = f"{bad}:3: unknown setting 'PORTAL_PROT' (did you mean PORTAL_PORT?)"
    with_bad = {**env, "PORTAL_SETTINGS_FILE": str(bad)}
    for args in (("tickets", "list"), ("serve", "--port", str(free_port())), ("check",)):
        result = portal(with_bad, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
    missing = portal({**env, "PORTAL_SETTINGS_FILE": str(tmp_path / "none.env")}, "tickets", "list")
    assert missing.returncode == 1 and "there is no such file" in missing.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("# only a comment\n\n   \n", {}),
        ("PORTAL_PORT=8123\n", {"PORTAL_PORT": ("8123", 1)}),
        ("\n  PORTAL_PORT = 8123  \n", {"PORTAL_PORT": ("8123", 2)}),
        ('PORTAL_SITE_NAME="Help # desk"\n', {"PORTAL_SITE_NAME": ("Help # desk", 1)}),
        ("PORTAL_SITE_NAME='It''s'\n", {"PORTAL_SITE_NAME": ("It''s", 1)}),
        ("PORTAL_SMTP_URL=smtp://u:p#w@h:587\n", {"PORTAL_SMTP_URL": ("smtp://u:p#w@h:587", 1)}),
        ("PORTAL_BASE_URL=\n", {"PORTAL_BASE_URL": ("", 1)}),
        ("PORTAL_RATE_LIMITS=3/60,7/120\n", {"PORTAL_RATE_LIMITS": ("3/60,7/120", 1)}),
        ("PORTAL_PROT=1\n", "x.env:1: unknown setting 'PORTAL_PROT' (did you mean PORTAL_PORT?)"),
        ("\nHOME=/root\n", "x.env:2: unknown setting 'HOME'"),
        ("PORTAL_PORT\n", "x.env:1: expected PORTAL_NAME=value"),
        ("=8000\n", "x.env:1: expected PORTAL_NAME=value"),
        ("PORTAL_PORT=1\nPORTAL_PORT=2\n", "x.env:2: PORTAL_PORT is set again (first on line 1)"),
        ("PORTAL_SETTINGS_FILE=other.env\n", "x.env:1: PORTAL_SETTINGS_FILE cannot be set"),
    ],
)
def test_settings_file_lines(
    text: str,
    expected: dict[str, tuple[str, int]] | str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.env").write_text(text)
    if isinstance(expected, str):
        with pytest.raises(SettingError) as caught:
            read_settings_file(Path("x.env"))
        assert str(caught.value).startswith(expected)
    else:
        assert read_settings_file(Path("x.env")) == expected


def test_settings_come_from_the_file_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k")
    base = {"PORTAL_SECRET_KEY": "k"}
    assert Settings.from_env().port == 8000  # no portal.env here: the defaults
    Path("portal.env").write_text("PORTAL_PORT=8123\nPORTAL_SITE_NAME=From the file\n")
    read = Settings.from_env()  # the process reads portal.env of its working directory
    assert (read.port, read.base_url, read.site_name) == (
        8123,
        "http://127.0.0.1:8123/",
        "From the file",
    )
    monkeypatch.setenv("PORTAL_PORT", "9001")
    assert Settings.from_env().port == 9001  # the variable wins
    monkeypatch.setenv("PORTAL_PORT", "")
    assert Settings.from_env().port == 8123  # empty: unset
    monkeypatch.delenv("PORTAL_PORT")
    # settings built from a given mapping (tests, workers) never pick up a stray portal.env
    assert Settings.from_env(base).port == 8000
    named = Settings.from_env({**base, "PORTAL_SETTINGS_FILE": "portal.env"})
    assert named.port == 8123  # unless it is named
    Path("other.env").write_text("PORTAL_PORT=eighty\n")
    with pytest.raises(SettingError, match=r"other.env:1: PORTAL_PORT='eighty' is not valid"):
        Settings.from_env({**base, "PORTAL_SETTINGS_FILE": "other.env"})
    # a worker of portal serve reads back what it was handed
    assert Settings.from_env(read.to_environ()) == read
    # it may hold secrets: never committed
    assert "portal.env" in (ROOT / ".gitignore").read_text("utf-8").split()


@pytest.mark.parametrize("kind", KINDS)
def test_the_address_served_is_recorded_in_the_database(kind: str, tmp_path: Path) -> None:
    with new_database_url(kind, tmp_path) as url:
        settings = Settings.from_env({"PORTAL_SECRET_KEY": "k"}, database_url=url)
        assert served.recorded(settings) is None  # nothing there yet (SQLite: no file)
        db = Database(url)
        try:
            db.upgrade()
            assert served.recorded(settings) is None
            served.record(db, "http://127.0.0.1:8123/")
            served.record(db, "http://127.0.0.1:9123/")  # the last serve wins
        finally:
            db.dispose()
        assert served.recorded(settings) == "http://127.0.0.1:9123/"
        assert settings.served_at(served.recorded(settings)).base_url == "http://127.0.0.1:9123/"
        chosen = Settings.from_env(
            {"PORTAL_SECRET_KEY": "k", "PORTAL_BASE_URL": "https://h.example"}
        )
        assert chosen.served_at("http://127.0.0.1:9123/").base_url == "https://h.example/"
        assert settings.served_at(None) == settings
