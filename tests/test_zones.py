"""The no-JavaScript time zone picker (portal/wizard/zones.py): grouped by region,
common zones first, the default from the browser's language region, else the
provider's zone."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from starlette.testclient import TestClient

from portal.wizard.zones import REGION_ZONES, default_zone, zone_for_language, zone_groups
from tests.support.wizard import describe

AVAILABLE = zoneinfo.available_timezones()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE", "Europe/Berlin"),
        ("en-GB", "Europe/London"),
        ("en-GB,en;q=0.9", "Europe/London"),
        ("de-AT,de;q=0.9,en;q=0.8", "Europe/Vienna"),
        ("fr-CH, fr;q=0.9", "Europe/Zurich"),
        ("en-US,en;q=0.9,de-DE;q=0.8", "Europe/Berlin"),  # US has several zones: the next tag
        ("en-US", None),
        ("pt-BR", None),
        ("en-AU", None),
        ("de", None),  # a language alone names no country
        ("en;q=0.9,ja-JP;q=0.95", "Asia/Tokyo"),  # by preference, not by order
        ("ja-JP;q=0, de-DE;q=0.5", "Europe/Berlin"),  # q=0: not wanted
        ("zh-Hant-TW", "Asia/Taipei"),  # a script subtag before the region
        ("sr-Latn-RS", "Europe/Belgrade"),
        ("en_GB", "Europe/London"),
        ("de-DE;q=oops", None),
        ("", None),
        (None, None),
        ("*", None),
    ],
)
def test_zone_for_language(header: str | None, expected: str | None) -> None:
    assert zone_for_language(header, AVAILABLE) == expected


def test_every_region_zone_exists() -> None:
    assert set(REGION_ZONES.values()) <= AVAILABLE


def test_default_zone_falls_back_to_the_provider_s() -> None:
    assert default_zone("en-US", "Europe/Berlin", AVAILABLE) == "Europe/Berlin"
    assert default_zone("en-IE", "Europe/Berlin", AVAILABLE) == "Europe/Dublin"


def test_groups_common_first_then_regions_each_zone_once() -> None:
    groups = zone_groups(AVAILABLE, ("Asia/Tokyo", "Europe/Berlin"))
    assert groups[0].label == "Common time zones"
    assert groups[0].zones[:3] == ("Asia/Tokyo", "Europe/Berlin", "UTC")
    labels = [g.label for g in groups[1:]]
    assert labels[:3] == ["Europe", "Americas", "Africa"]
    every = [z for g in groups for z in g.zones]
    assert len(every) == len(set(every))
    assert "Europe/Vienna" in next(g for g in groups if g.label == "Europe").zones
    # the old aliases and Etc/ zones stay out of the list (they are still accepted)
    assert not any(z.startswith(("Etc/", "US/")) or "/" not in z for z in every[1:] if z != "UTC")
    assert len(every) < 500


def test_an_old_zone_name_once_chosen_is_offered() -> None:
    groups = zone_groups(AVAILABLE, ("US/Eastern",))
    assert groups[0].zones[0] == "US/Eastern"


def selected_zone(page: str) -> str:
    match = re.search(r"<option selected>([^<]+)</option>", page)
    assert match, "no zone selected"
    return match.group(1)


def test_the_choose_step_groups_zones_and_defaults_from_the_language(
    browser_client: TestClient,
) -> None:
    c = browser_client
    describe(c, "my mailbox does not receive mail")
    page = c.get("/request/choose", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert '<optgroup label="Common time zones">' in page
    assert '<optgroup label="Europe">' in page and '<optgroup label="Americas">' in page
    assert selected_zone(page) == "Europe/London"
    assert page.count("<option selected>") == 1
    page = c.get("/request/choose", headers={"Accept-Language": "de-DE"}).text
    assert selected_zone(page) == "Europe/Berlin"
    # no region to go by: the provider's zone (content/policy.yaml: Europe/Berlin)
    page = c.get("/request/choose", headers={"Accept-Language": "ja-JP"}).text
    assert selected_zone(page) == "Asia/Tokyo"
    page = c.get("/request/choose", headers={"Accept-Language": "en-US"}).text
    assert selected_zone(page) == "Europe/Berlin"
