"""Each content pack is its provider's portal (#12): the site name comes from the
policy's provider unless PORTAL_SITE_NAME says otherwise, on the portal's pages and in
the static build; and ``{policy}`` directives that depend on the date are resolved for
today in the provider's time zone, not for a fixed day."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kb.build import build
from kb.layout import current_generation
from kb.policy import load_policy
from portal.app import create_app
from portal.config import Settings
from portal.kb.building import build_options, provider_today
from tests.support.packs import PACKS
from tests.support.paths import CONTENT, EXAMPLES

BRAND = re.compile(r'<a class="brand" href="[^"]*">([^<]+)</a>')
TITLE = re.compile(r"<title>([^<]+)</title>")
DEMO = "Harbor Hosting Support"


def _settings(content: Path, tmp_path: Path, **overrides: object) -> Settings:
    return Settings.from_env(
        content_dir=content,
        build_dir=tmp_path / "build",
        database_url=f"sqlite:///{tmp_path}/portal.db",
        secret_key="s",
        allowed_hosts=("testserver",),
        **overrides,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("content", [CONTENT, *(EXAMPLES / p for p in sorted(PACKS))])
def test_each_packs_home_page_shows_its_providers_name(content: Path, tmp_path: Path) -> None:
    policy, problems = load_policy(content / "policy.yaml")
    assert policy is not None and problems == []
    expected = f"{policy.provider.name} Support"
    with TestClient(create_app(_settings(content, tmp_path))) as client:
        home = client.get("/")  # the built site's home page
        assert home.status_code == 200
        assert BRAND.findall(home.text) == [expected.replace("&", "&amp;")]
        wizard = client.get("/request")  # a page the portal renders itself
        assert BRAND.findall(wizard.text) == [expected.replace("&", "&amp;")]
        assert expected in (TITLE.search(wizard.text) or [""])[0]
        if content != CONTENT:  # only the demo is Harbor Hosting
            assert "Harbor Hosting" not in home.text + wizard.text
    gen = current_generation(tmp_path / "build")
    assert gen is not None  # the static site carries the same name
    assert expected in (gen / "site" / "index.html").read_text("utf-8")


def test_the_demo_keeps_its_name_and_the_setting_wins(tmp_path: Path) -> None:
    assert build_options(_settings(CONTENT, tmp_path)).site_name == DEMO
    named = _settings(EXAMPLES / "kolmisoft", tmp_path, site_name="Help at VoIP Co")
    assert build_options(named).site_name == "Help at VoIP Co"
    with TestClient(create_app(named)) as client:
        assert BRAND.findall(client.get("/request").text) == ["Help at VoIP Co"]


def test_without_a_policy_the_name_is_neutral(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "articles").mkdir(parents=True)
    assert build_options(_settings(content, tmp_path)).site_name == "Support Portal"


def test_today_is_the_providers_date() -> None:
    policy, _ = load_policy(CONTENT / "policy.yaml")  # Europe/Berlin
    assert policy is not None
    late = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)  # already 2027 in Berlin
    assert provider_today(policy, late) == dt.date(2027, 1, 1)
    assert provider_today(policy, late - dt.timedelta(hours=1)) == dt.date(2026, 12, 31)


def _holidays_page(out: Path) -> str:
    gen = current_generation(out)
    assert gen is not None
    page = gen / "site" / "articles" / "support-hours-and-holidays.html"
    return page.read_text("utf-8")


def test_holiday_directives_are_the_dates_ahead_of_today(tmp_path: Path) -> None:
    settings = _settings(CONTENT, tmp_path)
    build(build_options(settings, today=dt.date(2026, 12, 2)))
    page = _holidays_page(settings.build_dir)
    # the dates of the next 12 months from that day, not the rule alone
    assert "Fri 1 Jan 2027" in page and "Thu 24 Dec 2026" in page
    assert "Thu 24 Dec 2026" not in page.split("Fri 1 Jan 2027", 1)[1]
    # another day: the page is built again (incrementally) with that day's dates
    report = build(build_options(settings, today=dt.date(2030, 3, 2)))
    page = _holidays_page(settings.build_dir)
    assert "Wed 1 Jan 2031" in page and "Dec 2026" not in page
    assert not report.full and report.rendered >= 1  # only the pages with directives
    # by default the build's day is today in the provider's zone
    policy, _ = load_policy(CONTENT / "policy.yaml")
    assert policy is not None
    options = build_options(settings)
    assert options.directive_digest.endswith(provider_today(policy).isoformat())
