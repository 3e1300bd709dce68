"""A notice worker in a process of its own, for the exactly-once tests: it drains the
notices due at a given moment one at a time (``portal.notices.drain``), writing the id
of each notice it holds (locked, not yet committed) to ``<dir>/<name>.claimed``.

    python -m tests.support.notice_worker URL POLICY NOW DIR NAME [--delay S] [--hang]

``--delay``: seconds to hold each claimed row before committing (so two workers
overlap); ``--hang``: after the first claim, write ``<dir>/<name>.hanging`` and wait
to be killed, with the row claimed and the transaction open. Waits for ``<dir>/go``
before it starts, so several workers start together."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

from kb.policy import load_policy
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Notice
from portal.notices.drain import drain


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "policy", "now", "dir", "name"):
        parser.add_argument(name)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    policy, problems = load_policy(Path(args.policy))
    assert policy is not None and not problems, problems
    settings = Settings.from_env(
        {},
        database_url=args.url,
        policy_file=Path(args.policy),
        secret_key="notice-worker",
        base_url="https://support.harbor.example/",
    )
    directory = Path(args.dir)
    claimed_file = directory / f"{args.name}.claimed"
    now = dt.datetime.fromisoformat(args.now)
    db = Database(args.url)
    (directory / f"{args.name}.ready").touch()
    while not (directory / "go").exists():
        time.sleep(0.02)

    def claimed(notice: Notice) -> None:
        with claimed_file.open("a") as out:
            out.write(f"{notice.id}\n")
            out.flush()
            os.fsync(out.fileno())
        if args.hang:
            (directory / f"{args.name}.hanging").touch()
            time.sleep(600)  # killed here, in the middle of the transaction
        time.sleep(args.delay)

    while drain(db, policy, settings, now=now, limit=1, claimed=claimed).done:
        pass
    (directory / f"{args.name}.done").touch()
    db.dispose()


if __name__ == "__main__":
    main()
