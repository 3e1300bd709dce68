"""Signing in and filing in a real browser, with and without JavaScript (#13): sign in
with the code from the mail (read from the outbox table) → file at once → the ticket's
page → "my requests"; a role-restricted type stops at the choose step saying who may
ask; axe on the sign-in pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kb.policy import load_policy
from portal.db.engine import Database
from portal.directory import importer
from tests.support.browser import serious_violations
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, start_server
from tests.support.signin import code_for


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    var = tmp_path_factory.mktemp("signin-browser")
    db = Database(f"sqlite:///{var}/portal.db")
    db.upgrade()
    policy, problems = load_policy(CONTENT / "policy.yaml")
    assert policy is not None and not problems
    report = importer.import_file(db, policy, EXAMPLES / "accounts.yaml")
    assert not report.errors
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def server(
    database: Database, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    var = tmp_path_factory.mktemp("signin-uploads")
    with start_server(
        {
            "PORTAL_DATABASE_URL": database.url,
            "PORTAL_UPLOAD_DIR": str(var),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "signin-browser-secret",
            "PORTAL_RATE_LIMITS": "1000/3600,1000/3600",
        }
    ) as live:
        yield live


@pytest.fixture(params=["js", "nojs"])
def customer(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=request.param == "js")
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, server: LiveServer, database: Database, email: str) -> None:
    page.goto(server.url + "/request")
    page.get_by_role("link", name="Sign in").first.click()
    expect(page.locator("h1")).to_have_text("Sign in with your e-mail")
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Mail me a code").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    page.get_by_label("The 6-digit code from the mail").fill(code_for(database, email))
    page.get_by_role("button", name="Sign in").click()


def describe(page: Page, server: LiveServer, text: str) -> None:
    page.goto(server.url + "/request")
    page.get_by_label("Describe the problem or request").fill(text)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/request/choose$"))


def test_sign_in_file_at_once_and_find_it_in_my_requests(
    customer: Page, server: LiveServer, database: Database
) -> None:
    sign_in(customer, server, database, "it@okafor.example")
    expect(customer).to_have_url(re.compile(r"/requests$"))
    expect(customer.locator(".site-header")).to_contain_text("Chidi Okafor")
    describe(customer, server, "my mailbox does not receive mail")
    expect(customer.get_by_label("Your support plan")).to_have_count(0)
    expect(customer.get_by_label("Your role on the account")).to_have_count(0)
    expect(customer.locator(".who")).to_contain_text("Okafor")
    customer.locator("label", has_text="A mailbox is not working").first.click()
    customer.get_by_role("button", name="Continue").click()
    expect(customer.locator(".verdict h2")).to_contain_text("Covered by your Priority plan")
    customer.get_by_role("button", name="Continue").click()
    customer.get_by_label("Affected email address").fill("info@okafor.example")
    customer.get_by_label("Exact error message").fill("550 5.1.1 mailbox unavailable")
    customer.get_by_label("When did it happen?").fill("2026-01-05T09:40")
    customer.get_by_label("What were you doing at the time?").fill("Sending a test message")
    customer.get_by_role("button", name="Continue to review").click()
    expect(customer).to_have_url(re.compile(r"/request/review$"))
    customer.get_by_role("button", name="File my request").click()
    expect(customer).to_have_url(re.compile(r"/tickets/T-[0-9A-Z]{4}-[0-9A-Z]{4}\?filed=1$"))
    expect(customer.locator(".success")).to_contain_text("Your request is filed")
    number = re.search(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}", customer.url)
    assert number
    customer.get_by_role("link", name="My requests").click()
    expect(customer).to_have_url(re.compile(r"/requests$"))
    expect(customer.locator(f"#t-{number.group(0)}")).to_contain_text("A mailbox is not working")
    customer.get_by_role("button", name="Sign out").first.click()
    expect(customer.locator("h1")).to_have_text("Signed out")
    expect(customer.locator(".site-header")).not_to_contain_text("Chidi Okafor")


def test_a_role_restricted_type_stops_at_choose(
    customer: Page, server: LiveServer, database: Database
) -> None:
    sign_in(customer, server, database, "ops2@okafor.example")
    describe(customer, server, "please add a contact to our account")
    customer.locator("label", has_text="Change the account's contacts").first.click()
    customer.get_by_role("button", name="Continue").click()
    expect(customer).to_have_url(re.compile(r"/request/choose$"))
    expect(customer.locator(".field-error").first).to_contain_text(
        "Only the account's primary contact or secondary contact may ask for"
    )
    expect(customer.locator(".field-error").first).to_contain_text("Chidi Okafor")


def test_axe_on_the_sign_in_pages(page: Page, server: LiveServer, database: Database) -> None:
    page.goto(server.url + "/signin")
    assert serious_violations(page) == []
    page.get_by_label("Your email address").fill("luis@rivera.example")
    page.get_by_role("button", name="Mail me a code").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    assert serious_violations(page) == []
    page.get_by_label("The 6-digit code from the mail").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".field-error")).to_contain_text("That code did not work")
    assert serious_violations(page) == []
    page.get_by_label("The 6-digit code from the mail").fill(
        code_for(database, "luis@rivera.example")
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    assert serious_violations(page) == []
