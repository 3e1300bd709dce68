"""A real uvicorn serving the demo content with the demo account directory imported,
mailing through a real SMTP server (tests/support/mail.py) with links to itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.policy import load_policy
from portal.db.engine import Database
from portal.directory import importer as accounts
from tests.support.mail import MailServer
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, free_port, start_server


@contextmanager
def demo_portal(build: Path, var: Path, mail: MailServer) -> Iterator[LiveServer]:
    port = free_port()
    database_url = f"sqlite:///{var}/portal.db"
    with start_server(
        {
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "live-demo-secret",
            "PORTAL_SMTP_URL": mail.url,
            "PORTAL_BASE_URL": f"http://127.0.0.1:{port}/",
        },
        port=port,
    ) as live:
        policy, problems = load_policy(CONTENT / "policy.yaml")
        assert policy is not None and not problems
        db = Database(database_url)
        try:
            report = accounts.import_file(db, policy, EXAMPLES / "accounts.yaml")
        finally:
            db.dispose()
        assert not report.errors, report.errors
        yield live
