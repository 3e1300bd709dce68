"""A real Request Tracker 5 for the tests: Debian's ``request-tracker5`` with a
throw-away SQLite database in a temp dir, ``rt-server`` on a free 127.0.0.1 port.

``make rt-deps`` installs RT when it is missing (``make test`` depends on it); without
``rt-server`` the tests that need RT are skipped with that hint. Its configuration
stays out of /etc (``RT_SITE_CONFIG`` and an empty ``RT_SITE_CONFIG_DIR``, else
Debian's ``50-debconf.pm`` moves the web root to /rt) and its outgoing mail goes to a
file in the temp dir. ``rt_server`` is one RT per test session, stopped with its
process group at the end; ``CuttingProxy`` stands between the portal and RT to drop
the answer to a ticket creation after RT made it (a timeout, for real).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support.servers import free_port

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_SETUP = Path("/usr/sbin/rt-setup-database-5")
RT_LIB = Path("/usr/share/request-tracker5/lib")
ROOT_AUTH = ("root", "password")  # RT's initial superuser
PORTAL_USER = "portal"
PORTAL_PASSWORD = "portal-secret"
SUPPORT_QUEUE = "Support"
BILLING_QUEUE = "Billing"
# the custom fields the test RT has on the Support queue: all of the connector's but
# "Server ID" (a field the queue lacks is left out, not an error)
SUPPORT_FIELDS = (
    "Portal ticket",
    "Plan",
    "Request type",
    "Coverage",
    "Accepted estimate",
    "Server",
    "Emergency claim",
)
PORTAL_RIGHTS = (
    "SeeQueue",
    "CreateTicket",
    "ShowTicket",
    "ShowTicketComments",  # granted so that the portal *could* read comments: it must not
    "ModifyTicket",
    "ReplyToTicket",
    "SeeCustomField",
    "SetInitialCustomField",
    "ModifyCustomField",
)


def _perl_list(items: tuple[str, ...]) -> str:
    return ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items)


INITIAL_DATA = f"""
@Queues = ({{ Name => '{SUPPORT_QUEUE}' }}, {{ Name => '{BILLING_QUEUE}' }});
@Users = ({{ Name => '{PORTAL_USER}', Password => '{PORTAL_PASSWORD}',
             EmailAddress => 'portal@portal.example', Privileged => 1 }});
@CustomFields = map {{ {{ Name => $_, Type => 'FreeformSingle',
    LookupType => 'RT::Queue-RT::Ticket', Queue => ['{SUPPORT_QUEUE}'] }} }}
    ({_perl_list(SUPPORT_FIELDS)});
@ACL = map {{ {{ UserId => '{PORTAL_USER}', Right => $_ }} }} ({_perl_list(PORTAL_RIGHTS)});
1;
"""

# prints a new auth token for the user named in ARGV[0]
MAKE_TOKEN = r"""
use strict; use warnings;
use RT; RT::LoadConfig(); RT::Init();
my $user = RT::User->new(RT->SystemUser);
$user->Load($ARGV[0]) or die "no user $ARGV[0]\n";
my $token = RT::AuthToken->new(RT->SystemUser);
my ($id, $msg, $auth) = $token->Create(Owner => $user->id, Description => 'portal tests');
die "$msg\n" unless $id;
print "$auth\n";
"""

SCRIP_DESCRIPTION = "Tell the portal"
ADD_SCRIP = (
    r"""
use strict; use warnings;
use RT; RT::LoadConfig(); RT::Init();
my $scrip = RT::Scrip->new(RT->SystemUser);
my ($id, $msg) = $scrip->Create(
    Queue => $ARGV[0], Description => '"""
    + SCRIP_DESCRIPTION
    + r"""',
    ScripCondition => 'On Transaction', ScripAction => 'User Defined',
    Template => 'Blank', CustomIsApplicableCode => '',
    CustomPrepareCode => 'return 1;', CustomCommitCode => $ARGV[1],
);
die "$msg\n" unless $id;
"""
)
DISABLE_SCRIPS = (
    r"""
use strict; use warnings;
use RT; RT::LoadConfig(); RT::Init();
my $scrips = RT::Scrips->new(RT->SystemUser);
$scrips->Limit(FIELD => 'Description', VALUE => '"""
    + SCRIP_DESCRIPTION
    + r"""');
while (my $scrip = $scrips->Next) { $scrip->SetDisabled(1) }
"""
)


def scrip_code(portal_url: str, secret: str) -> str:
    """The scrip's action (its "Custom action commit code") as docs/helpdesks.md
    gives it, for a portal at ``portal_url`` and its ``PORTAL_HELPDESK_SECRET``."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "helpdesks.md").read_text()
    code = docs.split("```perl\n", 1)[1].split("```", 1)[0]
    return code.replace("https://support.example.com", portal_url).replace(
        "PORTAL_HELPDESK_SECRET value", secret
    )


@dataclass
class RTServer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    ready_seconds: float = 0.0  # from starting rt-server to REST 2's first answer
    setup_seconds: float = 0.0  # initialising the database and its test data
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent_mail(self) -> Path:
        return self.directory / "sent.mbox"

    def admin(self) -> httpx.Client:
        """REST 2 as RT's root: the staff side of the tests."""
        return httpx.Client(
            base_url=self.url + "/REST/2.0/", auth=ROOT_AUTH, timeout=30, trust_env=False
        )

    def start(self, timeout: float = 120.0) -> None:
        log = (self.directory / "rt-server.log").open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(RT_SERVER), "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
        log.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rt-server exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(
                    self.url + "/REST/2.0/queues/all", auth=ROOT_AUTH, timeout=5, trust_env=False
                )
                if response.status_code == 200:
                    self.ready_seconds = time.monotonic() - started
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"RT's REST 2 did not answer within {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def auth_token(self, user: str) -> str:
        """A new RT auth token (RT::AuthToken, in RT 5 core) for ``user``, as RT shows it
        once under Settings → Auth Tokens (``1-14-…``), made with RT's own Perl API."""
        done = subprocess.run(
            ["perl", "-I", str(RT_LIB), "-e", MAKE_TOKEN, user],
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        token = done.stdout.decode().strip()
        if done.returncode != 0 or not token:
            raise RuntimeError(f"no RT auth token for {user}: {done.stderr!r}")
        return token

    def add_scrip(self, queue: str, commit_code: str) -> None:
        """A scrip on ``queue``: On Transaction, User Defined action (``commit_code``),
        Blank template, as docs/helpdesks.md has one made in RT's admin pages."""
        self._perl(ADD_SCRIP, queue, commit_code)

    def disable_scrips(self) -> None:
        """Turn off the scrips ``add_scrip`` made (the session's RT goes on)."""
        self._perl(DISABLE_SCRIPS)

    def _perl(self, script: str, *args: str) -> str:
        done = subprocess.run(
            ["perl", "-I", str(RT_LIB), "-e", script, *args],
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"RT's Perl API: {done.stderr!r}")
        return done.stdout.decode()

    def log_tail(self) -> str:
        path = self.directory / "rt-server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def rt_or_skip() -> None:
    if not RT_SERVER.exists() or not RT_SETUP.exists():
        pytest.skip(
            f"Request Tracker 5 is not installed ({RT_SERVER} is missing): run `make rt-deps`"
        )


def _setup(directory: Path, port: int) -> RTServer:
    """A new SQLite RT in ``directory`` with the test queues, fields and portal user."""
    sendmail = directory / "sendmail"
    sendmail.write_text(f"#!/bin/sh\ncat >> '{directory}/sent.mbox'\n")
    sendmail.chmod(0o755)
    site = directory / "RT_SiteConfig.pm"
    site.write_text(
        f"Set($DatabaseType, 'SQLite');\n"
        f"Set($DatabaseName, '{directory}/rt.db');\n"
        "Set($WebPath, '');\n"
        f"Set($WebBaseURL, 'http://127.0.0.1:{port}');\n"
        "Set($WebDomain, '127.0.0.1');\n"
        f"Set($WebPort, {port});\n"
        "Set($rtname, 'rt.test');\n"
        "Set($Timezone, 'UTC');\n"
        "Set($LogToSTDERR, 'error');\n"
        "Set($LogToSyslog, undef);\n"
        f"Set($SendmailPath, '{sendmail}');\n"
        "Set($SendmailArguments, '');\n"
        "1;\n"
    )
    (directory / "site.d").mkdir()
    data = directory / "initialdata.pl"
    data.write_text(INITIAL_DATA)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(directory),
        "RT_SITE_CONFIG": str(site),
        "RT_SITE_CONFIG_DIR": str(directory / "site.d"),
    }
    started = time.monotonic()
    for action in (["--action", "init"], ["--action", "insert", "--datafile", str(data)]):
        done = subprocess.run(
            [str(RT_SETUP), *action, "--skip-create"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0 or b"[error]" in done.stderr:  # a bad row is only logged
            raise RuntimeError(f"rt-setup-database {action[1]}: {done.stdout!r} {done.stderr!r}")
    return RTServer(directory, port, setup_seconds=time.monotonic() - started, env=env)


@pytest.fixture(scope="session")
def rt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    """One real RT for the session (skipped only when RT is not installed)."""
    rt_or_skip()
    server = _setup(tmp_path_factory.mktemp("rt"), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of RT. While ``cut_creates`` is set, a
    ``POST /REST/2.0/ticket`` reaches RT (which creates the ticket) but its answer never
    comes back: the connection is closed instead, as a timeout would leave it.

    With ``hold_lookups=N``, a ticket search (``GET /REST/2.0/tickets?…``, the
    connector's look-up before creating) is passed on only once N searches are waiting
    (or after ``hold_seconds``): N workers then search at the same moment, the race two
    portal workers delivering the same ticket would run into."""

    def __init__(
        self, upstream_port: int, *, hold_lookups: int = 0, hold_seconds: float = 10.0
    ) -> None:
        self.upstream_port = upstream_port
        self.cut_creates = False
        self.cut = 0  # answers dropped
        self.lookups = 0  # ticket searches seen
        self._hold = threading.Barrier(hold_lookups) if hold_lookups > 1 else None
        self._hold_seconds = hold_seconds
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            first = client.recv(65536)
            cutting = self.cut_creates and first.startswith(b"POST /REST/2.0/ticket ")
            if first.startswith(b"GET /REST/2.0/tickets?"):
                self.lookups += 1
                if self._hold is not None:
                    with contextlib.suppress(threading.BrokenBarrierError):
                        self._hold.wait(self._hold_seconds)
            upstream.sendall(first)
            forward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
            forward.start()
            while chunk := _recv(upstream):
                if not cutting:
                    client.sendall(chunk)
            if cutting:
                self.cut += 1
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _pump(source: socket.socket, target: socket.socket) -> None:
    while data := _recv(source):
        try:
            target.sendall(data)
        except OSError:
            return
