"""A real IMAP server for the tests: Debian's Dovecot on a free 127.0.0.1 port, from a
configuration in a temporary directory (nothing in /etc is read or changed), with one
static password for every user. Messages are delivered with IMAP APPEND.

``make mail-deps`` installs ``dovecot-imapd`` when /usr/sbin/dovecot is missing.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.servers import free_port

DOVECOT = Path("/usr/sbin/dovecot")
PASSWORD = "imap-test-password"

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 100
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={base}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    """One Dovecot master process; ``stop`` ends it with the pid in base_dir/master.pid."""

    def __init__(self) -> None:
        # its own directory under the system's temporary directory: the dovecot user
        # must reach its mail there (pytest's temporary directories are private to root)
        self.base = Path(tempfile.mkdtemp(prefix="portal-dovecot-"))
        self.port = free_port()
        self.config = self.base / "dovecot.conf"

    def start(self, timeout: float = 20.0) -> Dovecot:
        if not DOVECOT.exists():
            raise RuntimeError("Dovecot is not installed: run `make mail-deps`")
        dovecot = pwd.getpwnam("dovecot")
        for name in ("run", "state", "mail", "home"):
            (self.base / name).mkdir(parents=True, exist_ok=True)
        for name in ("mail", "home"):
            os.chown(self.base / name, dovecot.pw_uid, dovecot.pw_gid)
        self.base.chmod(0o755)  # the dovecot user reaches its mail below
        self.config.write_text(
            CONFIG.format(base=self.base, port=self.port, password=PASSWORD), "utf-8"
        )
        subprocess.run([str(DOVECOT), "-c", str(self.config)], check=True, timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text("utf-8", "replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        pid_file = self.base / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Stop it and remove its directory (configuration, state and mail)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, user: str, folder: str = "INBOX", query: str = "") -> str:
        """``PORTAL_IMAP_URL`` for ``user``'s folder."""
        return f"imap://{user}:{PASSWORD}@127.0.0.1:{self.port}/{folder}" + (
            f"?{query}" if query else ""
        )

    def client(self, user: str) -> imaplib.IMAP4:
        box = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        box.login(user, PASSWORD)
        return box

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message into ``user``'s folder (unseen)."""
        box = self.client(user)
        try:
            status, detail = box.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", detail
        finally:
            box.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[str]:
        """The FLAGS answer for every message in the folder, in order."""
        box = self.client(user)
        try:
            status, selected = box.select(folder, readonly=True)
            assert status == "OK", selected
            if not int(selected[0] or 0):
                return []
            status, fetched = box.fetch("1:*", "(FLAGS)")
            assert status == "OK", fetched
            return [str(item) for item in fetched if item]
        finally:
            box.logout()
