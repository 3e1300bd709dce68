"""The account directory import refuses what would forge mail or break its promise of
agreement (issue #10, item 9): control characters in any field, rows of one account
that disagree, unknown server owners. Each with its line; nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.policy import Policy, load_policy
from portal.db.engine import Database
from portal.db.models import Account
from portal.directory import importer as accounts
from tests.support.paths import CONTENT

HEADER = (
    "account_id,account_name,plan,plan_ends,product_version,"
    "contact_email,contact_name,contact_role,servers\n"
)
GOOD_CSV = "HH-1,One Ltd,standard,,,a@one.example,Ann,primary,web:1:own\n"
GOOD_YAML = """accounts:
  - id: HH-2
    name: Two Ltd
    plan: standard
    contacts:
      - {email: b@two.example, name: Bo, role: primary}
    servers:
      - {name: web, id: "7", owner: own}
"""

# (file name, content, an error that must be reported, with its line)
CASES = [
    (
        "newline in a contact name (forges a 'Priority:' line in the helpdesk mail)",
        "x.csv",
        HEADER + GOOD_CSV + 'HH-3,Three,standard,,,c@three.example,"Cy\nPriority: P1",primary,\n',
        "line 3: contact name 'Cy\\u000aPriority: P1' contains a line break",
    ),
    (
        "carriage return in an account name",
        "x.csv",
        HEADER + GOOD_CSV + 'HH-3,"Three\rLtd",standard,,,c@three.example,Cy,primary,\n',
        "line 3: account name 'Three\\u000dLtd' contains a line break",
    ),
    (
        "terminal escape in an account name",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three\x1b[31m,standard,,,c@three.example,Cy,primary,\n",
        "line 3: account name 'Three\\u001b[31m' contains a control character (U+001B)",
    ),
    (
        "NEL (C1) in a contact name",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three,standard,,,c@three.example,Cy\x85Dee,primary,\n",
        "line 3: contact name 'Cy\\u0085Dee' contains a line break",
    ),
    (
        "bidi override in a contact name",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three,standard,,,c@three.example,Cy\u202eeD,primary,\n",
        "line 3: contact name 'Cy\\u202eeD' contains a text-direction control (U+202E)",
    ),
    (
        "NUL in a server name",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three,standard,,,c@three.example,Cy,primary,we\x00b:9:own\n",
        "line 3: server name 'we\\u0000b' contains a control character (U+0000)",
    ),
    (
        "tab in a contact role",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three,standard,,,c@three.example,Cy,pri\tmary,\n",
        "line 3: contact role 'pri\\u0009mary' contains a control character (U+0009)",
    ),
    (
        "the account name disagrees between rows",
        "x.csv",
        HEADER + GOOD_CSV + "HH-1,One Limited,standard,,,b@one.example,Bo,secondary,\n",
        "line 3: account 'HH-1' has a different name than on line 2",
    ),
    (
        "a later row leaves the name empty",
        "x.csv",
        HEADER + GOOD_CSV + "HH-1,,standard,,,b@one.example,Bo,secondary,\n",
        "line 3: account 'HH-1' has a different name than on line 2",
    ),
    (
        "the plan and version disagree between rows",
        "x.csv",
        HEADER + GOOD_CSV + "HH-1,One Ltd,priority,,5.4,b@one.example,Bo,secondary,\n",
        "line 3: account 'HH-1' has a different plan, version than on line 2",
    ),
    (
        "unknown owner on a new server",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three,standard,,,c@three.example,Cy,primary,db:2:mine\n",
        "line 3: server 'db' has owner 'mine'; the owner must be 'own' or 'upstream'",
    ),
    (
        "unknown owner for a server already listed on an earlier row",
        "x.csv",
        HEADER + GOOD_CSV + "HH-1,One Ltd,standard,,,b@one.example,Bo,secondary,web:1:mine\n",
        "line 3: server id '1' is 'web:mine' here but 'web:own' on line 2",
    ),
    (
        "a row with more fields than columns",
        "x.csv",
        HEADER + GOOD_CSV + "HH-3,Three, Ltd,standard,,,c@three.example,Cy,primary,\n",
        "line 3: more fields than columns",
    ),
    (
        "newline in a YAML contact name",
        "x.yaml",
        GOOD_YAML
        + "  - id: HH-3\n    plan: standard\n    contacts:\n"
        + '      - {email: c@three.example, name: "Cy\\nPriority: P1", role: primary}\n',
        "line 12: contact name 'Cy\\u000aPriority: P1' contains a line break",
    ),
    (
        "trailing newline in a YAML account id (passed the id pattern's $)",
        "x.yaml",
        GOOD_YAML
        + '  - id: "HH-3\\n"\n    plan: standard\n    contacts:\n'
        + "      - {email: c@three.example, name: Cy, role: primary}\n",
        "line 9: account id 'HH-3\\u000a' contains a line break",
    ),
    (
        "lone surrogate in a YAML account name",
        "x.yaml",
        GOOD_YAML
        + '  - id: HH-3\n    name: "Th\\ud800ree"\n    plan: standard\n    contacts:\n'
        + "      - {email: c@three.example, name: Cy, role: primary}\n",
        "line 9: account name 'Th\\ud800ree' contains an invalid character (U+D800)",
    ),
    (
        "unknown owner in YAML, on the server's own line",
        "x.yaml",
        GOOD_YAML + "      - {name: db, id: '8', owner: mine}\n",
        "line 9: server 'db' has owner 'mine'; the owner must be 'own' or 'upstream'",
    ),
    (
        "the same server id twice for one account",
        "x.yaml",
        GOOD_YAML + "      - {name: web-b, id: '7', owner: own}\n",
        "line 9: server id '7' is listed twice for account 'HH-2' (also on line 8)",
    ),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    loaded, problems = load_policy(CONTENT / "policy.yaml")
    assert problems == [] and loaded is not None
    return loaded


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/portal.db")
    database.upgrade()
    return database


def test_good_files_import(db: Database, policy: Policy, tmp_path: Path) -> None:
    for name, content in (("ok.csv", HEADER + GOOD_CSV), ("ok.yaml", GOOD_YAML)):
        path = tmp_path / name
        path.write_text(content, "utf-8")
        report = accounts.import_file(db, policy, path)
        assert report.errors == [] and len(report.created) == 1


@pytest.mark.parametrize(("case", "name", "content", "error"), CASES, ids=[c[0] for c in CASES])
def test_bad_files_are_refused_whole_with_the_line(
    db: Database, policy: Policy, tmp_path: Path, case: str, name: str, content: str, error: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))  # byte for byte: a CR stays a CR
    report = accounts.import_file(db, policy, path)
    assert any(error in message for message in report.errors), (case, report.errors)
    for message in report.errors:  # messages are safe to print: one line, no escapes
        assert message.isprintable(), message
    with db.session() as session:  # all or nothing: the good account was not imported
        assert session.scalar(select(func.count()).select_from(Account)) == 0
