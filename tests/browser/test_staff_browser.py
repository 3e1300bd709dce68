"""The staff console in a real browser on a real uvicorn, with a real SMTP server:
setting a password from the one-time link, signing in and being locked out, the
queue's filters (with htmx and without JavaScript), a reply reaching the customer's
mailbox and status page and the customer's answer by mail reaching the thread,
rejecting a false emergency, and the H-Sphere reseller's backup tasks marked complete
or cancelled. axe checks every staff page."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kb.build import build
from kb.policy import Policy, load_policy
from portal.config import Settings
from portal.db.engine import Database
from portal.directory import importer as accounts
from portal.kb.building import build_options
from portal.mailin.views import signature as inbound_signature
from portal.staff import accounts as staff_accounts
from tests.support.browser import serious_violations
from tests.support.mail import MailServer, body
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, free_port, start_server
from tests.support.staff import CLI, PASSWORD, add_staff, file_ticket, staff_settings

SECRET = "staff-browser"
INBOUND_SECRET = "staff-browser-inbound"
RESELLER = EXAMPLES / "hsphere-reseller"


@dataclass
class Console:
    server: LiveServer
    db: Database
    policy: Policy
    settings: Settings


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


def _console(
    var: Path, content: Path, build_dir: Path, mail: MailServer, accounts_file: Path
) -> Iterator[Console]:
    port = free_port()
    url = f"sqlite:///{var}/portal.db"
    settings = staff_settings(
        url,
        var,
        build_dir,
        content_dir=content,
        policy_file=content / "policy.yaml",
        secret_key=SECRET,
        base_url=f"http://127.0.0.1:{port}/",
        smtp_url=mail.url,
        mail_from="support@harbor.example",
        staff_lockout=(3, 600),
        # mail in through the inbound endpoint: a customer's answer to a ticket mail
        reply_address="support@harbor.example",
        inbound_secret=INBOUND_SECRET,
    )
    db = Database(url)
    db.upgrade()
    policy, problems = load_policy(content / "policy.yaml")
    assert policy is not None and not problems
    assert accounts.import_file(db, policy, accounts_file).errors == []
    env = {
        **settings.to_environ(),
        "PORTAL_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    with start_server(env, port=port) as server:
        yield Console(server, db, policy, settings)
    db.dispose()


@pytest.fixture(scope="module")
def demo(
    demo_build: Path, mail: MailServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("staff-demo")
    yield from _console(var, CONTENT, demo_build, mail, EXAMPLES / "accounts.yaml")


@pytest.fixture(scope="module")
def reseller(mail: MailServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("staff-reseller")
    build_dir = var / "build"
    build(
        build_options(
            Settings.from_env(
                content_dir=RESELLER, build_dir=build_dir, secret_key="s", static_search=False
            )
        )
    )
    yield from _console(var, RESELLER, build_dir, mail, RESELLER / "accounts.yaml")


@pytest.fixture
def staff_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def no_violations(page: Page) -> None:
    assert serious_violations(page) == [], page.url


def sign_in(page: Page, console: Console, email: str, password: str = PASSWORD) -> None:
    page.goto(console.server.url + "/staff/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def message_about(mail: MailServer, to: str, number: str, words: str) -> EmailMessage:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for m in mail.inbox.to(to):
            if number in str(m["Subject"]) and words in str(m["Subject"]):
                return m
        time.sleep(0.1)
    raise AssertionError(f"no mail '{words}' about {number}: {mail.inbox.summary()}")


def answer_to(sent: EmailMessage, text: str) -> bytes:
    """The customer's answer as a mail client writes it: to the Reply-To, naming the
    mail it answers, the original quoted below, a signature."""
    reply = EmailMessage(policy=SMTP)
    reply["From"] = str(sent["To"])
    reply["To"] = str(sent["Reply-To"])
    reply["Subject"] = "Re: " + str(sent["Subject"])
    reply["Message-ID"] = make_msgid(domain="lindqvist.example")
    reply["In-Reply-To"] = reply["References"] = str(sent["Message-ID"])
    quoted = "\n".join("> " + line for line in body(sent).splitlines())
    reply.set_content(
        f"{text}\n\n-- \nDev Lindqvist, ext. 4411\n\nOn Wed, support wrote:\n{quoted}\n"
    )
    return reply.as_bytes()


def mail_about(mail: MailServer, to: str, number: str, words: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for m in mail.inbox.to(to):
            if number in str(m["Subject"]) and words in str(m["Subject"]):
                return body(m)
        time.sleep(0.1)
    raise AssertionError(f"no mail '{words}' about {number}: {mail.inbox.summary()}")


def test_a_new_agent_sets_a_password_signs_in_and_a_guesser_is_locked_out(
    staff_page: Page, browser: Browser, demo: Console
) -> None:
    issued = staff_accounts.add(
        demo.db,
        demo.settings,
        "new@harbor.example",
        name="New Agent",
        role="agent",
        actor=CLI,
        now=dt.datetime.now(dt.UTC),
    )
    page = staff_page
    page.goto(issued.link)
    expect(page.locator("h1")).to_have_text("Set your password")
    no_violations(page)
    page.get_by_label("New password").fill("new@harbor.example")  # long enough, but no
    page.get_by_label("The same password again").fill("new@harbor.example")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".field-error")).to_contain_text("not your address")
    no_violations(page)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("h1")).to_have_text("Your password is set")
    no_violations(page)
    page.get_by_role("link", name="Sign in to the staff console").click()
    no_violations(page)
    page.get_by_label("E-mail address").fill("new@harbor.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Queue")
    expect(page.locator(".staff-bar")).to_contain_text("New Agent")
    no_violations(page)
    # someone guessing another account's password is locked out after three tries
    guesser = browser.new_context().new_page()
    for _ in range(3):
        sign_in(guesser, demo, "new@harbor.example", "guess guess guess")
        expect(guesser.locator(".error-summary")).to_contain_text("not right")
    sign_in(guesser, demo, "new@harbor.example", PASSWORD)  # locked: answered like a guess
    expect(guesser.locator(".error-summary")).to_contain_text("not right")
    no_violations(guesser)
    expect(guesser.get_by_label("E-mail address")).to_have_value("new@harbor.example")
    guesser.context.close()
    # signing out ends the session
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Staff sign-in")
    page.goto(demo.server.url + "/staff")
    expect(page.locator("h1")).to_have_text("Staff sign-in")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_queue_filters(browser: Browser, demo: Console, js: bool) -> None:
    add = f"q{'js' if js else 'nojs'}@harbor.example"
    add_staff(demo.db, demo.settings, add, name="Queue Person")
    urgent = file_ticket(
        demo.db,
        demo.policy,
        demo.settings,
        account="HH-20417",
        email="it@okafor.example",
        request_type="server-down",
        priority="blocker",
        emergency=True,
    )
    plain = file_ticket(demo.db, demo.policy, demo.settings)
    context = browser.new_context(java_script_enabled=js)
    page = context.new_page()
    sign_in(page, demo, add)
    expect(page.locator("h1")).to_have_text("Queue")
    results = page.locator("#queue-results")
    expect(results).to_contain_text(urgent.number)
    expect(results).to_contain_text(plain.number)
    expect(page.locator('[data-count="emergency:accepted"]')).to_have_count(0)  # not a quick link
    claimed = page.locator('[data-count="emergency:claimed"] .count')
    assert int(claimed.inner_text()) >= 1
    page.get_by_label("Emergency").select_option("accepted")
    if not js:
        page.get_by_role("button", name="Apply filters").click()
    expect(results).not_to_contain_text(plain.number)
    expect(results).to_contain_text(urgent.number)
    expect(page).to_have_url(re.compile(r"emergency=accepted"))
    if js:  # axe runs in the page's JavaScript
        no_violations(page)
    # a quick filter link, and back to everything
    page.get_by_role("link", name=re.compile(r"^Unassigned")).click()
    expect(page).to_have_url(re.compile(r"assigned=none"))
    page.get_by_role("link", name="Clear").click()
    expect(results).to_contain_text(plain.number)
    context.close()


def test_a_reply_reaches_the_customer(staff_page: Page, demo: Console, mail: MailServer) -> None:
    add_staff(demo.db, demo.settings, "replier@harbor.example", name="Rita Replier")
    t = file_ticket(demo.db, demo.policy, demo.settings, email="dev@lindqvist.example")
    page = staff_page
    sign_in(page, demo, "replier@harbor.example")
    page.get_by_role("link", name=t.number).click()
    expect(page.locator("h1")).to_contain_text(t.number)
    expect(page.locator(".facts").first).to_contain_text("Lindqvist Webdesign")
    no_violations(page)
    page.get_by_label("Note (staff only, never shown to the customer)").fill("VIP, be quick")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".success")).to_contain_text("internal note")
    page.get_by_label(re.compile(r"^Reply \(mailed to")).fill(
        "We fixed the MX record; please try again."
    )
    page.get_by_label("Status after the reply").select_option("waiting_for_customer")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".success")).to_contain_text("sent to the customer")
    expect(page.locator(".thread")).to_contain_text("We fixed the MX record")
    text = mail_about(mail, "dev@lindqvist.example", t.number, "Our answer")
    assert "We fixed the MX record; please try again." in text and "Rita Replier" in text
    link = re.search(r"(http://127\.0\.0\.1:\d+/tickets/\S+)", text)
    assert link, text
    customer = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    customer.goto(link.group(1))
    expect(customer.locator("main")).to_contain_text("We fixed the MX record")
    expect(customer.locator("main")).not_to_contain_text("VIP, be quick")
    customer.context.close()
    # the customer answers the reply from their mail client; the mail service posts it
    assert "reply to this mail" in text
    sent = message_about(mail, "dev@lindqvist.example", t.number, "Our answer")
    raw = answer_to(sent, "Still failing for info@; since 9:00.")
    posted = page.request.post(
        demo.server.url + "/api/inbound",
        data=raw,
        headers={
            "X-Portal-Signature": inbound_signature(INBOUND_SECRET, raw),
            "Content-Type": "message/rfc822",
        },
    )
    assert posted.status == 202 and posted.json()["outcome"] == "added", posted.text()
    page.reload()
    thread = page.locator(".thread")
    expect(thread).to_contain_text("Customer added information")
    expect(thread).to_contain_text("Still failing for info@; since 9:00.")
    expect(thread).not_to_contain_text("ext. 4411")  # the signature and quote trimmed
    page.goto(f"{demo.server.url}/staff?replied=1")
    expect(page.locator(f'tr[data-number="{t.number}"]')).to_contain_text("customer replied")
    no_violations(page)


def test_rejecting_a_false_emergency(staff_page: Page, demo: Console, mail: MailServer) -> None:
    add_staff(demo.db, demo.settings, "triage@harbor.example", name="Tara Triage")
    t = file_ticket(
        demo.db,
        demo.policy,
        demo.settings,
        account="HH-20417",
        email="ops1@okafor.example",
        request_type="server-down",
        priority="blocker",
        emergency=True,
    )
    page = staff_page
    sign_in(page, demo, "triage@harbor.example")
    page.goto(f"{demo.server.url}/staff/tickets/{t.number}")
    expect(page.locator(".lead")).to_contain_text("emergency")
    page.get_by_label("Why it is not an emergency (sent to the customer)").fill(
        "The server answers; only one site is slow."
    )
    page.get_by_role("button", name="Reject the emergency claim").click()
    expect(page.locator(".success")).to_contain_text("emergency claim was rejected")
    expect(page.locator(".facts").first).to_contain_text("Not an emergency, as our staff found")
    expect(page.get_by_role("button", name="Reject the emergency claim")).to_have_count(0)
    no_violations(page)
    text = mail_about(mail, "ops1@okafor.example", t.number, "Not an emergency")
    assert demo.policy.emergency is not None and demo.policy.emergency.definition in text


def test_the_resellers_backup_tasks_complete_and_cancel(
    staff_page: Page, reseller: Console, mail: MailServer
) -> None:
    add_staff(reseller.db, reseller.settings, "ops@reseller.example", name="Ola Ops")
    done = file_ticket(
        reseller.db,
        reseller.policy,
        reseller.settings,
        request_type="backup-schedule",
        account="DS-3001",
        email="it@kestrel-analytics.example",
        priority="standard",
    )
    dropped = file_ticket(
        reseller.db,
        reseller.policy,
        reseller.settings,
        request_type="backup-schedule",
        account="DS-3001",
        email="it@kestrel-analytics.example",
        priority="standard",
    )
    page = staff_page
    sign_in(page, reseller, "ops@reseller.example")
    page.goto(f"{reseller.server.url}/staff/tickets/{done.number}")
    expect(page.locator(".facts").first).to_contain_text("ds-101 (id 1101)")
    expect(page.locator(".facts").first).to_contain_text("maintenance task")
    no_violations(page)
    page.get_by_label("Note for the customer (needed to cancel)").fill(
        "First backup is on the server."
    )
    page.get_by_role("button", name="Mark as complete").click()
    expect(page.locator(".success")).to_contain_text("marked complete")
    expect(page.locator(".lead")).to_contain_text("Completed")
    page.goto(f"{reseller.server.url}/staff/tickets/{dropped.number}")
    page.get_by_role("button", name="Cancel the task").click()
    expect(page.locator(".error-summary")).to_contain_text("note for the customer")
    no_violations(page)
    page.get_by_label("Note for the customer (needed to cancel)").fill("You asked us to stop.")
    page.get_by_role("button", name="Cancel the task").click()
    expect(page.locator(".lead")).to_contain_text("Cancelled")
    completed = mail_about(mail, "it@kestrel-analytics.example", done.number, "Task completed")
    assert "First backup is on the server." in completed
    cancelled = mail_about(mail, "it@kestrel-analytics.example", dropped.number, "Task cancelled")
    assert "You asked us to stop." in cancelled
