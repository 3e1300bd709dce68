"""One realistic customer request per provider pack (#12), walked in Chromium from
describe to review, with JavaScript and without: what the review promises (coverage,
cost or quote, first response) must be what that pack's policy.yaml says.

Each pack's portal is a real uvicorn serving ``examples/<pack>`` (its policy, articles
and brand). Expected figures are computed here from the policy's own fields (the
Priority price from ``plans[].price``, the next opening from ``calendars[].hours``),
never written as literals. axe runs on every step with JavaScript on only (it hangs on
pages with JavaScript off). No request is sent: filing is tests/test_tickets.py's job.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import serious_violations
from tests.support.packs import numbers
from tests.support.paths import EXAMPLES
from tests.support.servers import LiveServer, start_server

# A customer in Berlin: with JavaScript the browser's zone is picked, without it the
# zone the language suggests; either way the times on the review carry their zone.
ZONE = "Europe/Berlin"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHOWN_TIME = re.compile(
    r"(?P<day>\d{1,2}) (?P<month>[A-Z][a-z]{2})(?: (?P<year>\d{4}))?, "
    r"(?P<clock>\d\d:\d\d)(?: [A-Z]+)? \((?P<zone>[^)]+)\)"
)


class Customer:
    """A customer's browser tab; ``axe()`` checks the current step when JS is on."""

    def __init__(self, page: Page, js: bool) -> None:
        self.page = page
        self.js = js

    def axe(self, once: bool = False) -> None:
        """``once``: a page that is the same in every test (the describe step), checked
        the first time only."""
        if not self.js or (once and self.page.url in _CHECKED):
            return
        assert serious_violations(self.page) == [], self.page.url
        _CHECKED.add(self.page.url)


_CHECKED: set[str] = set()  # the pages axe has passed in this session


@pytest.fixture(params=["js", "nojs"])
def customer(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Customer]:
    js = request.param == "js"
    context = browser.new_context(java_script_enabled=js, timezone_id=ZONE, locale="de-DE")
    yield Customer(context.new_page(), js)
    context.close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], LiveServer]]:
    """``portal(pack)``: that pack's portal, started on first use (it builds its own
    articles at start-up) and kept for the module."""
    started: dict[str, LiveServer] = {}

    def get(pack: str) -> LiveServer:
        if pack not in started:
            var = tmp_path_factory.mktemp(f"pack-{pack}")
            started[pack] = start_server(
                {
                    "PORTAL_CONTENT_DIR": str(EXAMPLES / pack),
                    "PORTAL_POLICY": str(EXAMPLES / pack / "policy.yaml"),
                    "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
                    "PORTAL_UPLOAD_DIR": str(var / "uploads"),
                    "PORTAL_BUILD_DIR": str(var / "build"),
                    "PORTAL_SECRET_KEY": f"pack-browser-{pack}",
                },
                timeout=60,
            )
        return started[pack]

    yield get
    for server in started.values():
        server.stop()


def policy_yaml(pack: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / pack / "policy.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def words(text: str) -> str:
    """Text with its whitespace runs made single spaces (YAML folds, HTML wraps)."""
    return " ".join(text.split())


# --- walking the wizard ---------------------------------------------------------------


def describe(c: Customer, server: LiveServer, text: str, first: str) -> None:
    """Describe the request; the ranking must put the type titled ``first`` first (it is
    the one preselected)."""
    c.page.goto(server.url + "/request")
    c.axe(once=True)
    c.page.get_by_label("Describe the problem or request").fill(text)
    c.page.get_by_role("button", name="Continue").click()
    expect(c.page).to_have_url(re.compile(r"/request/choose$"))
    expect(c.page.get_by_role("radio", name=re.compile("^" + re.escape(first)))).to_be_checked()
    c.axe()


def who(c: Customer, account: str, email: str, plan: str, version: str | None = None) -> None:
    c.page.get_by_label("Account id").fill(account)
    c.page.get_by_label("Your email address").fill(email)
    c.page.get_by_label("Your support plan").select_option(label=plan)
    if version is not None:
        c.page.get_by_label(re.compile(r"version \(if you run it\)")).fill(version)
    c.page.get_by_role("button", name="Continue").click()
    expect(c.page).to_have_url(re.compile(r"/request/coverage$"))
    c.axe()


def to_details(c: Customer) -> None:
    c.page.get_by_role("button", name="Continue").click()
    expect(c.page).to_have_url(re.compile(r"/request/details$"))
    c.axe()


def to_review(c: Customer) -> None:
    c.page.get_by_role("button", name="Continue to review").click()
    expect(c.page).to_have_url(re.compile(r"/request/review$"))
    c.axe()


def fact(page: Page, term: str) -> Locator:
    """The review's answer (``<dd>``) to ``term`` (its ``<dt>``)."""
    dt_ = page.locator("dl.review > dt").filter(has_text=re.compile(f"^{re.escape(term)}$"))
    expect(dt_).to_have_count(1)
    return dt_.locator("xpath=following-sibling::dd[1]")


def covered(plan: str) -> re.Pattern[str]:
    """The coverage step's heading for an included request on ``plan``."""
    return re.compile(rf"^\s*Covered (on the|by your) {re.escape(plan)}")


def verdict(page: Page) -> str:
    return words(page.locator(".verdict").inner_text())


# --- what the policy says, computed here ----------------------------------------------


def shown_time(text: str, now: dt.datetime) -> dt.datetime:
    """The one moment ``text`` shows ("Wed 2 Dec, 08:00 (Europe/Berlin)"), in UTC."""
    found = SHOWN_TIME.findall(text)
    assert len(found) == 1, text
    match = SHOWN_TIME.search(text)
    assert match is not None
    zone = zoneinfo.ZoneInfo(match["zone"])
    year = int(match["year"] or now.astimezone(zone).year)
    local = dt.datetime.strptime(
        f"{year} {match['month']} {match['day']} {match['clock']}", "%Y %b %d %H:%M"
    ).replace(tzinfo=zone)
    if match["year"] is None and local < now - dt.timedelta(days=1):
        local = local.replace(year=year + 1)  # "Fri 1 Jan" seen on 31 Dec
    return local.astimezone(dt.UTC)


def next_opening(calendar: dict[str, Any], zone: str, now: dt.datetime) -> dt.datetime:
    """When a calendar's weekly hours (``mon-fri: "02:00-16:00"``, ``sat-sun: 24h``,
    ``daily: …``) are next open at or after ``now`` (``now`` when open), in UTC. The
    packs' holiday countries list no days off for the coming year (see the packs)."""
    tz = zoneinfo.ZoneInfo(zone)
    local_now = now.astimezone(tz)
    windows: dict[int, list[tuple[dt.time, dt.time | None]]] = {}
    for days, span in calendar["hours"].items():
        first, _, last = ("mon-sun" if days == "daily" else days).partition("-")
        for i in range(DAYS.index(first), DAYS.index(last or first) + 1):
            if span == "24h":
                windows.setdefault(i, []).append((dt.time(0), None))
            else:
                opening, closing = (dt.time.fromisoformat(t) for t in span.split("-"))
                windows.setdefault(i, []).append((opening, closing))
    candidates = []
    for offset in range(8):
        day = local_now.date() + dt.timedelta(days=offset)
        for start, end in windows.get(day.weekday(), []):
            opens = dt.datetime.combine(day, start, tz)
            closes = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
                if end is None
                else dt.datetime.combine(day, end, tz)
            )
            if local_now < closes:
                candidates.append(max(opens, local_now))
    return min(candidates).astimezone(dt.UTC)


def dollars(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def close(shown: dt.datetime, expected: dt.datetime) -> bool:
    """Equal to the minute the page was rendered in (the page shows minutes)."""
    return abs(shown - expected) <= dt.timedelta(minutes=2)


# --- hsphere ------------------------------------------------------------------------


def test_hsphere_priority_signup_shows_the_price_for_the_servers(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("hsphere")
    price = next(p for p in policy["plans"] if p["id"] == "priority")["price"]
    servers = 7
    monthly = Decimal(price["amount"]) + Decimal(price["per_extra_server"]) * (
        servers - price["included_servers"]
    )
    total = monthly * price["minimum_months"]
    regular = next(p for p in policy["plans"] if p["id"] == "regular")
    c, page = customer, customer.page

    describe(
        c,
        portal("hsphere"),
        "We would like to order priority support for our seven H-Sphere servers",
        "Order priority support",
    )
    who(c, "HS-10021", "admin@bluefin-hosting.example", "Regular", "2.5")
    expect(page.locator(".verdict h2")).to_contain_text(covered("Regular plan"))
    to_details(c)
    page.get_by_label("Number of servers").fill(str(servers))
    if c.js:  # the price follows the number as it is typed
        expect(page.locator("#plan-price")).to_contain_text(f"{dollars(monthly)} per month")
    to_review(c)

    quoted = words(fact(page, "Price").inner_text())
    assert f"Priority: {dollars(monthly)} per month for {servers} servers" in quoted
    assert f"at least {price['minimum_months']} months, {dollars(total)} in all" in quoted
    assert words(price["text"]) in quoted  # and the policy's own terms beside it
    assert words(fact(page, "Coverage").inner_text()).startswith("Included")
    # Regular promises no reaction time: the policy's words and the next opening
    now = dt.datetime.now(dt.UTC)
    first = words(fact(page, "First response").inner_text())
    assert words(regular["first_response_text"]) in first
    assert "Support next opens" in first
    opening = next_opening(policy["calendars"]["regular"], policy["provider"]["timezone"], now)
    assert close(shown_time(first, now), opening), (first, opening)
    assert numbers(first) == set(), first  # no duration of any kind


def test_hsphere_unpriced_service_asks_for_a_quote(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("hsphere")
    priority = next(p for p in policy["plans"] if p["id"] == "priority")
    c, page = customer, customer.page

    describe(
        c,
        portal("hsphere"),
        "Please install PostgreSQL 16 on our database server",
        "Install or upgrade third-party software",
    )
    who(c, "HS-10057", "ops@northgate.example", "Priority", "3.0")
    shown = verdict(page)
    assert "priced on request" in shown and "quote" in shown
    assert not re.search(r"[$€£]|\bUSD\b|per hour|Estimate", shown), shown  # no rate exists
    expect(page.get_by_label(re.compile("I accept the charges"))).to_have_count(0)
    page.get_by_role("button", name="Continue").click()  # the quote must be asked for
    expect(page.locator(".error-summary, .field-error").first).to_be_visible()
    page.get_by_label("I want a quote before any work starts").check()
    to_details(c)
    page.get_by_label("Server name and id").fill("db1 (id 5706)")
    page.get_by_label("Software and version").fill("PostgreSQL 16")
    to_review(c)

    review = words(page.locator("dl.review").inner_text())
    assert "I accept the charges" not in review
    assert not re.search(r"[$€£]|\bUSD\b", review), review
    assert "quote" in words(fact(page, "Coverage").inner_text())
    now = dt.datetime.now(dt.UTC)
    first = words(fact(page, "First response").inner_text())
    assert words(priority["first_response_text"]) in first
    opening = next_opening(policy["calendars"]["priority"], policy["provider"]["timezone"], now)
    assert close(shown_time(first, now), opening), (first, opening)
    assert numbers(first) == set(), first


# --- itpossible ---------------------------------------------------------------------


def itpossible_first_response(page: Page, policy: dict[str, Any]) -> None:
    """Standard aims at a first reply within its reaction hours, around the clock: due
    that long after now, in the policy's words ("1–3 hours")."""
    standard = next(p for p in policy["plans"] if p["id"] == "standard")
    now = dt.datetime.now(dt.UTC)
    first = words(fact(page, "First response").inner_text())
    assert standard["reaction_text"]["normal"] in first
    due = now + dt.timedelta(hours=standard["reaction"]["normal"])
    assert close(shown_time(first, now), due), (first, due)


def test_itpossible_site_error_described_instead_of_an_error_message(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("itpossible")
    c, page = customer, customer.page

    describe(
        c,
        portal("itpossible"),
        "Our website shows a server error page since this morning",
        "My site shows an error caused on your side",
    )
    who(c, "karoocafe", "thandi@karoocafe.example", "Standard hosting support")
    expect(page.locator(".verdict h2")).to_contain_text(covered("Standard hosting"))
    to_details(c)
    group = page.get_by_role("group", name=re.compile("^One of these"))
    expect(group).to_contain_text("describe the error completely")
    page.get_by_label("Address of the page").fill("https://karoocafe.example/shop")
    # no error message: a complete description and the time it happened will do
    page.get_by_label("Describe your request").fill(
        "The shop page is blank: no error text, just a white page, on every browser we tried."
    )
    page.get_by_label("When did it happen?").fill("2026-11-30T08:30")
    to_review(c)

    expect(fact(page, "Exact error message")).to_have_text("—")
    expect(fact(page, "Describe your request")).to_contain_text("just a white page")
    expect(fact(page, "When did it happen?")).to_contain_text("30 Nov, 08:30")
    assert words(fact(page, "Coverage").inner_text()).startswith("Included")
    itpossible_first_response(page, policy)


def test_itpossible_cms_install_says_what_is_not_included(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("itpossible")
    note = words(next(t for t in policy["request_types"] if t["id"] == "cms-install")["note"])
    c, page = customer, customer.page

    describe(
        c,
        portal("itpossible"),
        "Please install WordPress on my domain and customise the theme",
        "Install an included CMS",
    )
    who(c, "karoocafe", "thandi@karoocafe.example", "Standard hosting support")
    expect(page.locator(".verdict h2")).to_contain_text("Covered")
    assert note in verdict(page)  # the caveat comes with "Covered"
    to_details(c)
    page.get_by_label("Domain name").fill("karoocafe.example")
    page.get_by_label("Software and version").fill("WordPress 6.7")
    to_review(c)

    coverage = words(fact(page, "Coverage").inner_text())
    assert coverage.startswith("Included") and note in coverage
    itpossible_first_response(page, policy)


def test_itpossible_advanced_rate_tells_of_both_figures(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("itpossible")
    rate = next(r for r in policy["rates"] if r["id"] == "advanced")
    c, page = customer, customer.page

    describe(
        c,
        portal("itpossible"),
        "Please debug my PHP code: my contact form page throws a fatal error",
        "Help with my own code",
    )
    who(c, "karoocafe", "thandi@karoocafe.example", "Standard hosting support")
    shown = verdict(page)
    assert f"R{rate['amount']}.00 per hour" in shown
    assert "R340.00" in shown, shown  # the CHOICE: the policy gives two rates
    assert words(rate["description"]) in shown
    page.get_by_label("I accept the charges described above").check()
    to_details(c)
    page.get_by_label("Address of the page").fill("https://karoocafe.example/contact.php")
    page.get_by_label("Exact error message").fill("PHP Fatal error: Uncaught Error on line 12")
    page.get_by_label("What were you doing at the time?").fill("Submitting the contact form")
    to_review(c)

    review = words(page.locator("dl.review").inner_text())
    assert f"R{rate['amount']}.00 per hour" in review
    assert "R340.00" in review, review


# --- hsphere-reseller ---------------------------------------------------------------


def test_reseller_backup_request_asks_no_hsphere_version(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("hsphere-reseller")
    plan = policy["plans"][0]
    c, page = customer, customer.page

    describe(
        c,
        portal("hsphere-reseller"),
        "Please schedule weekly backups of my dedicated server",
        "Schedule regular backups",
    )
    expect(page.get_by_label(re.compile("version", re.I))).to_have_count(0)
    who(c, "DS-3001", "it@kestrel-analytics.example", "Dedicated server")
    shown = verdict(page)
    assert "quote" in shown and not re.search(r"[$€£]|\bUSD\b|per hour", shown), shown
    page.get_by_label("I want a quote before any work starts").check()
    to_details(c)
    expect(page.get_by_label(re.compile("version", re.I))).to_have_count(0)
    page.get_by_label("Server name and id").fill("ds-101 (id 1101)")
    page.get_by_label("Describe your request").fill("A full backup every Sunday night.")
    to_review(c)

    expect(fact(page, "Request")).to_contain_text("Schedule regular backups")
    expect(page.locator("dl.review > dt").filter(has_text="Version")).to_have_count(0)
    assert "quote" in words(fact(page, "Coverage").inner_text())
    first = words(fact(page, "First response").inner_text())
    assert words(plan["first_response_text"]) in first
    assert "Support next opens" not in first and numbers(first) == set(), first


# --- kolmisoft ----------------------------------------------------------------------


def test_kolmisoft_bug_in_a_current_release_claims_the_waiver(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("kolmisoft")
    waiver = words(policy["waivers"]["bug_in_latest_versions"])
    premium = next(p for p in policy["plans"] if p["id"] == "premium")
    c, page = customer, customer.page

    describe(
        c,
        portal("kolmisoft"),
        "I found a bug in MOR 11: invoices show the wrong VAT total",
        "Report a bug in MOR",
    )
    who(c, "KS-1002", "ops@atlasvoice.example", "Premium", "11")
    expect(page.locator(".verdict h2")).to_have_text("Billable work")
    assert f"€{policy['rates'][0]['amount']}.00 per hour" in verdict(page)
    claim = page.get_by_label(f"I believe this applies: {waiver}")
    expect(claim).not_to_be_checked()  # a claim the customer makes, not a given
    page.get_by_label("I accept the charges described above").check()
    claim.check()
    to_details(c)
    # Blocker is the emergency level here and a bug report is no emergency: not offered,
    # and the page says why
    expect(page.get_by_role("radio", name=re.compile("^Blocker"))).to_have_count(0)
    why = words(page.locator("#emergency-rules").locator("xpath=..").inner_text())
    assert words(policy["emergency"]["definition"]) in why
    page.get_by_label("Product version").fill("11")
    page.get_by_label("Exact error message").fill("Invoice 1043: VAT of EUR 100.00 shown as 12.10")
    page.get_by_label("When did it happen?").fill("2026-11-30T09:15")
    page.get_by_label("What were you doing at the time?").fill("Generating the monthly invoices")
    page.get_by_role("radio", name=re.compile("^High")).check()
    to_review(c)

    expect(fact(page, "No charge?")).to_contain_text(f"You claim: {waiver}")
    expect(fact(page, "No charge?")).to_contain_text("staff will confirm")
    expect(fact(page, "Priority")).to_contain_text("High")
    first = words(fact(page, "First response").inner_text())
    assert premium["reaction_text"]["high"] in first
    assert words(policy["calendars"]["working"]["note"]) in first  # hours not published
    assert SHOWN_TIME.search(first) is None, first  # so no due time


def test_kolmisoft_blocker_is_the_emergency_claim(
    customer: Customer, portal: Callable[[str], LiveServer]
) -> None:
    policy = policy_yaml("kolmisoft")
    premium = next(p for p in policy["plans"] if p["id"] == "premium")
    c, page = customer, customer.page

    describe(
        c,
        portal("kolmisoft"),
        "MOR is down: no calls go through and billing stopped",
        "MOR is down or badly degraded",
    )
    who(c, "KS-1002", "ops@atlasvoice.example", "Premium", "11")
    expect(page.locator(".verdict h2")).to_contain_text(covered("Premium plan"))
    to_details(c)
    page.get_by_label("Exact error message").fill("All calls: 503 Service Unavailable")
    page.get_by_label("When did it happen?").fill("2026-12-01T23:40")
    page.get_by_label("What were you doing at the time?").fill("Nothing changed on our side")
    # Blocker is not a level to pick: it comes with the emergency mark, which says so
    expect(page.get_by_role("radio", name=re.compile("^Blocker"))).to_have_count(0)
    page.get_by_role("radio", name=re.compile("^High")).check()
    mark = page.get_by_label("This is an emergency")
    expect(mark).to_have_accessible_description(re.compile("Blocker ticket"))
    mark.check()
    to_review(c)

    priority = words(fact(page, "Priority").inner_text())
    assert priority.startswith("Blocker (emergency), or High if the emergency mark does not stand")
    now = dt.datetime.now(dt.UTC)
    first = words(fact(page, "First response").inner_text())
    # as an emergency the plan's reaction counts around the clock; otherwise in working
    # hours, which are not published: no due time
    emergency, _, otherwise = first.partition("otherwise:")
    assert emergency.startswith("as an emergency: by")
    assert premium["reaction_text"]["blocker"] in emergency
    due = now + dt.timedelta(hours=premium["reaction"]["blocker"])
    assert close(shown_time(emergency, now), due), (emergency, due)
    assert words(policy["calendars"]["working"]["note"]) in otherwise
    assert SHOWN_TIME.search(otherwise) is None, otherwise
