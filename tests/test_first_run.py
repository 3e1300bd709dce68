"""A newcomer's first run: `make run` imports the demo accounts (idempotent) and says
which e-mail to use, as README's first screen does; `portal serve --port P` mails links
to port P; console mail is printed decoded, the filing link whole, and it opens the
filing page."""

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

from portal.config import Settings, served_url
from tests.support.factories import DEMO_ACCOUNT, DEMO_EMAIL
from tests.support.forms import post
from tests.support.paths import CONTENT, ROOT
from tests.support.servers import LiveServer, start_server
from tests.support.wizard import MAILBOX_DETAILS

MAIL_START = "----- mail (console: PORTAL_SMTP_URL is not set)"
MAIL_END = "----- end of mail"


@pytest.fixture(scope="module")
def env(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    var = tmp_path_factory.mktemp("first-run")
    return {
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
    makefile = (ROOT / "Makefile").read_text("utf-8")
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "portal accounts import examples/accounts.yaml" in run
    assert "$(DEMO_EMAIL)" in run and f"DEMO_EMAIL := {DEMO_EMAIL}" in makefile
    first_screen = (ROOT / "README.md").read_text("utf-8").split("![", 1)[0]
    assert DEMO_EMAIL in first_screen and DEMO_ACCOUNT in first_screen
