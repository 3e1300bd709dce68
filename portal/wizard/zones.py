"""The wizard's time zone picker without JavaScript: zones grouped by region (one
``<optgroup>`` each), the common ones first, and a default guessed from the browser's
language tag (``Accept-Language: de-DE`` → Europe/Berlin), else the provider's zone.

Pure functions, tested with tables of cases (tests/test_zones.py). With JavaScript the
browser's own zone is chosen instead (static/js/wizard.js).

Only a country with a single time zone gives a default (REGION_ZONES); for the United
States, Canada, Australia, Russia, Brazil, Mexico and others with several zones the
language says nothing about the zone, so the provider's zone stays the default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# region (ISO 3166 country) of a language tag → that country's one time zone
REGION_ZONES = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CN": "Asia/Shanghai",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "NG": "Africa/Lagos",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TR": "Europe/Istanbul",
    "TW": "Asia/Taipei",
    "UA": "Europe/Kyiv",
    "ZA": "Africa/Johannesburg",
}

# offered first, after the provider's zone and the guessed one
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)

# the zone database's areas (Region/City), in the picker's order, with their names
REGIONS = {
    "Europe": "Europe",
    "America": "Americas",
    "Africa": "Africa",
    "Asia": "Asia",
    "Australia": "Australia",
    "Pacific": "Pacific",
    "Atlantic": "Atlantic",
    "Indian": "Indian Ocean",
    "Antarctica": "Antarctica",
    "Arctic": "Arctic",
}


@dataclass(frozen=True)
class ZoneGroup:
    label: str
    zones: tuple[str, ...]


def zone_for_language(accept_language: str | None, available: Iterable[str]) -> str | None:
    """The zone of the first language tag, by preference (``q``), whose region names a
    country with one time zone; None when no tag does."""
    known = set(available)
    tags: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        tags.append((-quality, index, tag.strip()))
    for quality, _, tag in sorted(tags):
        if quality >= 0:  # q=0: "not this one"
            continue
        subtags = tag.replace("_", "-").split("-")
        for sub in subtags[1:]:
            zone = REGION_ZONES.get(sub.upper()) if len(sub) == 2 and sub.isalpha() else None
            if zone and zone in known:
                return zone
    return None


def zone_groups(available: Iterable[str], first: Iterable[str] = ()) -> list[ZoneGroup]:
    """The picker's groups: "Common time zones" (``first``, then COMMON_ZONES), then
    one group per region with its other zones by name; zones outside the regions
    (``Etc/…``, ``US/…``, old names) are left out unless named in ``first``."""
    known = set(available)
    common = tuple(dict.fromkeys(z for z in (*first, *COMMON_ZONES) if z in known))
    groups = [ZoneGroup("Common time zones", common)]
    taken = set(common)
    for area, label in REGIONS.items():
        zones = tuple(
            sorted(z for z in known if z.split("/", 1)[0] == area and "/" in z and z not in taken)
        )
        if zones:
            groups.append(ZoneGroup(label, zones))
    return groups


def default_zone(accept_language: str | None, provider_zone: str, available: Iterable[str]) -> str:
    """The zone the picker starts on: the language's, else the provider's."""
    return zone_for_language(accept_language, available) or provider_zone
