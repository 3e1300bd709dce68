"""The helpdesk connectors' pure parts (no RT needed): the RT URL, the queue and priority
maps, RT's statuses as the portal's, and which connectors the settings choose."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from portal.config import SettingError, Settings
from portal.db.engine import MIGRATIONS, Database
from portal.db.models import Base
from portal.helpdesk.builtin import Builtin
from portal.helpdesk.choose import connectors_for, external
from portal.helpdesk.email import EmailHelpdesk
from portal.helpdesk.rt import RTConfig, RTHelpdesk, parse_rt_time, queue_for, rt_priority, rt_time
from portal.helpdesk.webhook import WebhookHelpdesk
from portal.tickets.states import STATUSES, from_rt_status, helpdesk_status
from tests.support.databases import KINDS, new_database_url

DEMO = ("blocker", "high", "medium", "low")  # content/policy.yaml, most urgent first


@pytest.mark.parametrize(
    ("priorities", "priority", "emergency", "expected"),
    [
        (DEMO, "blocker", False, 100),
        (DEMO, "high", False, 67),
        (DEMO, "medium", False, 33),
        (DEMO, "low", False, 0),
        (DEMO, "low", True, 100),  # an accepted emergency is RT's most urgent
        (DEMO, "unknown", False, 50),
        (("urgent", "normal"), "normal", False, 0),
        (("only",), "only", False, 50),
        ((), "high", False, 50),
    ],
)
def test_rt_priority(
    priorities: tuple[str, ...], priority: str, emergency: bool, expected: int
) -> None:
    assert rt_priority(priorities, priority, emergency=emergency) == expected


CONFIG = RTConfig(
    base_url="https://rt.example",
    queue="Support",
    queues={"mail-server-down": "Mail", "billing": "Billing", "upstream": "Upstream"},
)


@pytest.mark.parametrize(
    ("request_type", "category", "routing", "expected"),
    [
        ("mail-server-down", "outage", "own", "Mail"),  # the type first
        ("invoice-question", "billing", "own", "Billing"),  # then its category
        ("server-reboot", "servers", "upstream", "Upstream"),  # then its routing
        ("email-not-working", "email", "own", "Support"),  # else the default queue
        ("", "", "", "Support"),
    ],
)
def test_queue_for(request_type: str, category: str, routing: str, expected: str) -> None:
    assert queue_for(CONFIG, request_type, category, routing) == expected


@pytest.mark.parametrize(
    ("url", "base", "queue", "queues", "timeout"),
    [
        ("rt+https://rt.example/?queue=Support", "https://rt.example", "Support", {}, 10.0),
        ("rt+http://127.0.0.1:8080", "http://127.0.0.1:8080", "General", {}, 10.0),
        (
            "rt+https://desk.example/rt/?queue=Help+Desk&queue.outage=Urgent&timeout=3",
            "https://desk.example/rt",
            "Help Desk",
            {"outage": "Urgent"},
            3.0,
        ),
    ],
)
def test_rt_url(url: str, base: str, queue: str, queues: dict[str, str], timeout: float) -> None:
    config = RTConfig.parse(url)
    assert (config.base_url, config.queue, dict(config.queues), config.timeout) == (
        base,
        queue,
        queues,
        timeout,
    )
    assert config.api == base + "/REST/2.0/"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://rt.example/", "starts with rt+https://"),
        ("rt+https:///?queue=x", "names no host"),
        ("rt+https://rt.example/?qeue=Support", "unknown RT helpdesk option 'qeue'"),
    ],
)
def test_bad_rt_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        RTConfig.parse(url)


@pytest.mark.parametrize(
    ("rt", "portal"),
    [
        ("new", "open"),
        ("open", "in_progress"),
        ("stalled", "waiting_for_customer"),
        ("resolved", "completed"),
        ("rejected", "cancelled"),
        ("deleted", "cancelled"),
        ("Resolved", "completed"),
        ("escalated", None),  # a custom lifecycle's status changes nothing
        ("", None),
    ],
)
def test_rt_statuses_as_the_portals(rt: str, portal: str | None) -> None:
    assert from_rt_status(rt) == portal == helpdesk_status("rt", rt)
    assert helpdesk_status("builtin", rt) is None  # other helpdesks report no statuses
    assert portal is None or portal in STATUSES


def test_rt_times_are_utc() -> None:
    moment = dt.datetime(2026, 12, 3, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert rt_time(moment) == "2026-12-03 10:30:00"
    assert parse_rt_time("2026-12-03T10:30:00Z") == moment
    assert parse_rt_time("1970-01-01T00:00:00Z") is None  # RT's "not set"


def test_the_settings_choose_the_connectors() -> None:
    plain = Settings.from_env({"PORTAL_SECRET_KEY": "k"})
    assert plain.helpdesk == "builtin"
    [builtin] = connectors_for(plain)
    assert isinstance(builtin, Builtin) and external([builtin]) is None
    copies = Settings.from_env(
        {
            "PORTAL_SECRET_KEY": "k",
            "PORTAL_HELPDESK_EMAIL": "desk@example.com",
            "PORTAL_HELPDESK_WEBHOOK": "https://desk.example/hook",
        }
    )
    assert [type(c) for c in connectors_for(copies)] == [
        Builtin,
        EmailHelpdesk,
        WebhookHelpdesk,
    ]
    rt = Settings.from_env(
        {"PORTAL_SECRET_KEY": "k", "PORTAL_HELPDESK": "rt+https://rt.example/?queue=Support"}
    )
    with pytest.raises(ValueError, match="needs the database"):
        connectors_for(rt)


def test_a_helpdesk_the_portal_cannot_use_stops_it() -> None:
    for bad in ("rt://rt.example", "zammad", "rt+https://"):
        with pytest.raises(SettingError, match="PORTAL_HELPDESK="):
            Settings.from_env({"PORTAL_SECRET_KEY": "k", "PORTAL_HELPDESK": bad})
    with pytest.raises(SettingError, match="PORTAL_HELPDESK_POLL="):
        Settings.from_env({"PORTAL_SECRET_KEY": "k", "PORTAL_HELPDESK_POLL": "0"})


def test_the_rt_connector_needs_no_connection_to_queue() -> None:
    """Filing only writes outbox rows: the connector connects on first delivery."""
    db = Database("sqlite://")
    helpdesk = RTHelpdesk(
        db, RTConfig.parse("rt+http://127.0.0.1:9/"), "u:p", policy=None, upload_dir=Path(".")
    )
    assert helpdesk._client is None and helpdesk.cursor_name == "rt http://127.0.0.1:9"
    db.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_migration_0008_matches_the_models_and_goes_back(kind: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    with new_database_url(kind, tmp_path) as url:
        database = Database(url)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))

        def run(step: str, target: str) -> None:
            with database.engine.begin() as connection:
                config.attributes["connection"] = connection
                getattr(command, step)(config, target)

        def mine() -> list[Any]:
            """What differs between the models and the database for 0008's objects."""
            with database.engine.connect() as connection:
                diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            return [d for d in diffs if "helpdesk" in repr(d)]

        run("upgrade", "0008")
        assert mine() == []
        assert "helpdesk_cursors" in inspect(database.engine).get_table_names()
        run("downgrade", "0007")
        assert "helpdesk_cursors" not in inspect(database.engine).get_table_names()
        columns = {c["name"] for c in inspect(database.engine).get_columns("tickets")}
        assert "helpdesk_id" not in columns
        database.upgrade()
        assert mine() == []
        database.dispose()
