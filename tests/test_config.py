"""Settings: each declared once (portal/config.py), read from the environment, typed
overrides, written back for worker processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import SettingError, Settings
from tests.support.paths import ROOT

UNUSUAL = {
    "PORTAL_CONTENT_DIR": "/srv/help/content",
    "PORTAL_BUILD_DIR": "/srv/help/build",
    "PORTAL_DATABASE_URL": "postgresql+psycopg://portal@db/portal",
    "PORTAL_UPLOAD_DIR": "/srv/help/uploads",
    "PORTAL_MAX_UPLOAD_MB": "2.5",
    "PORTAL_BASE_URL": "https://help.example",
    "PORTAL_SITE_NAME": "Example Help",
    "PORTAL_SECRET_KEY": "s3cret",
    "PORTAL_FORWARDED_ALLOW_IPS": "10.0.0.1",
    "PORTAL_ALLOWED_HOSTS": "help.example, www.help.example",
    "PORTAL_VERIFY_MAX_AGE": "600",
    "PORTAL_STATUS_MAX_AGE": "86400",
    "PORTAL_SMTP_URL": "smtps://mail.example:465",
    "PORTAL_MAIL_FROM": "help@example.com",
    "PORTAL_HELPDESK_EMAIL": "desk@example.com",
    "PORTAL_HELPDESK_WEBHOOK": "https://desk.example/hook",
    "PORTAL_HELPDESK": "rt+https://rt.example/rt/?queue=Support&queue.outage=Urgent",
    "PORTAL_HELPDESK_TOKEN": "1-14-0123456789abcdef",
    "PORTAL_HELPDESK_POLL": "15",
    "PORTAL_UPSTREAM_EMAIL": "noc@upstream.example",
    "PORTAL_RATE_LIMITS": "3/60,7/120",
    "PORTAL_REDIS_URL": "redis://127.0.0.1:6379/3",
    "PORTAL_PREVIEW": "1",
    "PORTAL_STALE_DAYS": "30",
    "PORTAL_HOST": "0.0.0.0",
    "PORTAL_PORT": "8080",
    "PORTAL_HTTPS": "1",
}


def test_every_variable_is_read_into_its_field() -> None:
    s = Settings.from_env(UNUSUAL)
    assert s.policy_file == Path("/srv/help/content/policy.yaml")  # follows the content
    assert s.max_upload_bytes == int(2.5 * 1024 * 1024)
    assert s.base_url == "https://help.example/"
    assert s.allowed_hosts == ("help.example", "www.help.example")
    assert (s.rate_limit_address, s.rate_limit_client) == ((3, 60), (7, 120))
    assert s.webhook_secret == "s3cret"  # the secret key unless set
    assert (s.preview, s.https, s.port, s.stale_days) == (True, True, 8080, 30)


def test_to_environ_gives_a_worker_the_same_settings() -> None:
    """What ``portal serve`` hands to uvicorn's workers reads back unchanged."""
    for environ in (UNUSUAL, {"PORTAL_SECRET_KEY": "k"}):
        settings = Settings.from_env(environ)
        assert Settings.from_env(settings.to_environ()) == settings


def test_the_defaults_that_follow_other_settings(tmp_path: Path) -> None:
    environ = {"PORTAL_SECRET_KEY": "k", "PORTAL_CONTENT_DIR": "env-content"}
    assert Settings.from_env(environ).policy_file == Path("env-content/policy.yaml")
    # an override of the content directory moves the policy file with it ...
    moved = Settings.from_env(environ, content_dir=tmp_path)
    assert moved.policy_file == tmp_path / "policy.yaml"
    # ... unless PORTAL_POLICY names one
    named = Settings.from_env(
        {**environ, "PORTAL_POLICY": "/etc/policy.yaml"}, content_dir=tmp_path
    )
    assert named.policy_file == Path("/etc/policy.yaml")
    assert Settings.from_env({**environ, "PORTAL_WEBHOOK_SECRET": "w"}).webhook_secret == "w"


def test_an_empty_variable_counts_as_unset() -> None:
    settings = Settings.from_env({"PORTAL_SECRET_KEY": "k", "PORTAL_PORT": " ", "PORTAL_HOST": ""})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_a_bad_value_names_the_variable_and_the_default() -> None:
    with pytest.raises(SettingError) as caught:
        Settings.from_env({"PORTAL_SECRET_KEY": "k", "PORTAL_PORT": "eighty"})
    assert "PORTAL_PORT='eighty' is not valid" in str(caught.value)
    assert "the default is '8000'" in str(caught.value)
    # an override takes the variable's place, so its text is not even read
    assert Settings.from_env({"PORTAL_SECRET_KEY": "k", "PORTAL_PORT": "eighty"}, port=1).port == 1


def test_overrides_are_type_checked(tmp_path: Path) -> None:
    """mypy checks the names and types of ``from_env``'s keyword arguments."""
    snippet = tmp_path / "uses_settings.py"
    snippet.write_text(
        "from pathlib import Path\n"
        "from portal.config import Settings\n"
        "Settings.from_env(content_dir=Path('c'), port=80, rate_limit_client=(1, 60))\n"
        "Settings.from_env(port='80')\n"
        "Settings.from_env(prot=80)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--follow-imports=silent",
            str(snippet),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [e.split(":")[1] for e in errors] == ["4", "5"], result.stdout
    assert '"port" to "from_env" of "Settings" has incompatible type "str"' in errors[0]
    assert 'Unexpected keyword argument "prot"' in errors[1]
