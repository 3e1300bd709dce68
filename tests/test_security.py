"""Bad input (OWASP ASVS 5.0 L1/L2): injection, uploads, oversized bodies, CSRF,
redirects, cookies, mail headers, tokens. Each test names the requirement it covers."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import markupsafe
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.render import render_markdown
from portal.app import create_app
from portal.config import Settings
from portal.notify import transport as mail
from portal.tickets import tokens
from portal.wizard import uploads
from portal.wizard.flow import TIMEZONES, Draft, check_choose, check_describe
from tests.support.forms import csrf, post
from tests.support.paths import CONTENT
from tests.support.wizard import describe, png

VECTORS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<div hx-get="/admin" hx-trigger="load">x</div>',
    '<button hx-on:click="alert(1)">x</button>',
    "{{7*7}}{% raw %}",
]
RAW = re.compile(
    r"<script>alert|<img src=x|<svg onload|<a href=\"data:|<div hx-get|<button hx-on", re.I
)


def assert_escaped(html: str) -> None:
    assert not RAW.search(html), RAW.search(html)


@functools.cache
def demo_policy() -> Policy:
    policy, problems = load_policy(CONTENT / "policy.yaml")
    assert policy is not None and problems == []
    return policy


@pytest.mark.parametrize("vector", VECTORS)
def test_customer_text_is_escaped_in_every_step(browser_client: TestClient, vector: str) -> None:
    """ASVS 1.2.1, 1.2.2, 1.3.1: output encoding of untrusted text in pages and fragments."""
    c = browser_client
    describe(c, f"mail {vector}")
    assert_escaped(c.get("/request/choose").text)
    fragment = c.post("/request/suggest", data={"text": vector, "csrf_token": csrf(c)})
    assert_escaped(fragment.text)
    post(
        c,
        "/request/choose",
        {
            "request_type": "website-not-loading",
            "account": "HH-10234",
            "email": "a@example.com",
            "plan": "standard",
            "role": "primary",
            "tz": "Europe/Berlin",
        },
    )
    post(c, "/request/coverage", {})
    r = post(
        c,
        "/request/details",
        {
            "detail_url": vector,
            "detail_error_message": vector,
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": vector,
            "priority": "high",
        },
    )
    assert r.status_code == 303
    review = c.get("/request/review").text
    assert_escaped(review)
    assert str(markupsafe.escape(vector)) in review  # shown as typed, as text
    search = c.get("/search", params={"q": vector})
    assert_escaped(search.text)


def test_template_syntax_in_input_is_not_evaluated(browser_client: TestClient) -> None:
    describe(browser_client, "total {{7*7}} and {% for x in y %}")
    page = browser_client.get("/request/choose").text
    assert "{{7*7}}" in page and ">49<" not in page


NOT_AN_IMAGE = "Only PNG, JPEG or WebP images can be attached."
UPLOADS = [
    (
        "evil.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "image/svg+xml",
        NOT_AN_IMAGE,
    ),
    ("page.png", b"<html><script>alert(1)</script></html>", "image/png", NOT_AN_IMAGE),
    ("fake.jpg", b"GIF89a....", "image/jpeg", NOT_AN_IMAGE),
    ("empty.png", b"", "image/png", "The file is empty."),
]


@pytest.mark.parametrize(("name", "data", "ctype", "message"), UPLOADS)
def test_uploads_are_checked_by_content(
    browser_client: TestClient, name: str, data: bytes, ctype: str, message: str
) -> None:
    """ASVS 5.2.1, 5.2.2: type and size checked on the server, by content."""
    c = browser_client
    describe(c, "site shows an error")
    post(
        c,
        "/request/choose",
        {
            "request_type": "website-not-loading",
            "account": "HH-10234",
            "email": "a@example.com",
            "plan": "standard",
            "role": "primary",
        },
    )
    post(c, "/request/coverage", {})
    r = post(
        c,
        "/request/details",
        {"priority": "high"},
        files={"detail_screenshot": (name, data, ctype)},
    )
    assert r.status_code == 422
    assert message in r.text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("shot\r\nContent-Type: text/html.png", "html.png"),
        ("shot\r\nX-Injected: 1.png", "shotX-Injected: 1.png"),
        ('a"b<c>.png', "abc.png"),
        ("\x00\x01.png", "png"),
        ("", "screenshot"),
    ],
)
def test_upload_names_cannot_traverse_or_inject(raw: str, clean: str) -> None:
    """ASVS 5.3.2: file names from users never become paths or headers."""
    assert uploads.safe_filename(raw) == clean


def test_polyglot_is_stored_but_only_ever_downloaded(tmp_path: Path) -> None:
    """ASVS 5.2.2 (polyglot): a PNG that is also HTML is kept as an image file with a
    random name; it is served as an attachment with nosniff and a sandbox CSP."""
    polyglot = png() + b"<html><script>alert(1)</script></html>"
    stored = uploads.store(tmp_path, "x.png", polyglot, max_bytes=10_000)
    assert stored.content_type == "image/png"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", stored.id)
    assert uploads.path_of(tmp_path, "../" + stored.id) is None


def test_oversized_and_many_part_bodies_are_refused(browser_client: TestClient) -> None:
    """Huge urlencoded bodies and 1,000-part multipart bodies never reach the parser."""
    c = browser_client
    token = csrf(c)
    huge = c.post(
        "/request",
        content=b"text=" + b"a" * (8 * 1024 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b"a" * 65536

    chunked = c.post(
        "/request", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    files = {f"f{i}": (f"{i}.txt", b"x", "text/plain") for i in range(1000)}
    many = c.post("/request", data={"csrf_token": token}, files=files)
    assert many.status_code == 400
    fields = "&".join(f"k{i}=v" for i in range(1000))
    many_fields = c.post(
        "/request",
        content=f"csrf_token={token}&{fields}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert many_fields.status_code == 400


def test_no_open_redirects(browser_client: TestClient) -> None:
    """ASVS 3.7.2: no redirect target comes from the request."""
    for url in ["/request?next=https://evil.example", "/search?next=//evil.example&q=x"]:
        r = browser_client.get(url, follow_redirects=False)
        assert r.status_code == 200
    r = post(browser_client, "/request", {"text": "hello there", "next": "https://evil.example"})
    assert r.headers["location"] == "/request/choose"


LATER_STEPS = {"/request/choose", "/request/coverage", "/request/details", "/request/review"}


def test_every_state_change_needs_csrf(browser_client: TestClient) -> None:
    """ASVS 3.5.1, 3.5.3: every form and htmx POST; no GET changes state."""
    c = browser_client
    c.get("/request")
    for url in [
        "/request",
        "/request/suggest",
        "/request/solved",
        "/request/restart",
        "/request/choose",
        "/request/coverage",
        "/request/details",
        "/request/review",
        "/request/confirm",
        "/tickets/T-AAAA-AAAA/comment",
        "/tickets/T-AAAA-AAAA/feedback",
    ]:
        r = c.post(url, data={"text": "x"}, follow_redirects=False)
        # a later step of an empty draft redirects to the first step, which refuses
        expected = 303 if url in LATER_STEPS else 403
        assert r.status_code == expected, url
        if expected == 303:
            assert c.post(r.headers["location"], data={"text": "x"}).status_code == 403


def test_session_cookie_flags(app: Starlette, demo_settings: Settings) -> None:
    """ASVS 3.3: session cookies HttpOnly, SameSite, and Secure behind HTTPS; HSTS."""
    with TestClient(app) as c:
        cookie = c.get("/request").headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    from dataclasses import replace

    secure = create_app(replace(demo_settings, https=True), run_outbox=False)
    with TestClient(secure, base_url="https://testserver") as c:
        r = c.get("/request")
        assert "Secure" in r.headers["set-cookie"]
        assert r.headers["set-cookie"].startswith("__Host-portal_session=")
        assert r.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize(
    "evil",
    ["Hello\r\nBcc: victim@example.com", "Hi\nSubject: spoof", "x\x00y\x0bz", "é" * 500],
)
def test_mail_headers_cannot_be_injected(evil: str) -> None:
    """Names and subjects are flattened to one line; the SMTP policy refuses the rest."""
    message = mail.build("support@example.com", "to@example.com", evil, "body", sender_name=evil)
    text = message.as_string()
    header_lines = text.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")
    names = [line.split(":", 1)[0] for line in header_lines if line and not line[0].isspace()]
    assert names.count("Subject") == 1
    assert "Bcc" not in names
    assert "\x00" not in text


def test_client_rate_limit(app: Starlette, demo_settings: Settings) -> None:
    """ASVS 2.4.1: many verification requests from one client are throttled."""
    import datetime as dt

    from portal.tickets.filing import submit

    settings = Settings.from_env(**{**demo_settings.__dict__, "rate_limit_client": (2, 3600)})
    policy = app.state.policy.get()
    data = {"email": "", "account": "HH-1", "request_type": "email-not-working", "text": "x"}
    now = dt.datetime.now(dt.UTC)
    results = [
        submit(
            app.state.db,
            policy,
            settings,
            {**data, "email": f"u{i}@rate.example"},
            client="203.0.113.7",
            now=now,
        ).throttled
        for i in range(3)
    ]
    assert results == [False, False, True]


COMPLETE_API_REQUEST = {
    "text": "my mailbox does not receive mail",
    "request_type": "email-not-working",
    "account": "HH-10234",
    "email": "anna@lindqvist.example",
    "plan": "standard",
    "role": "primary",
    "priority": "high",
    "details": {
        "mailbox": "info@lindqvist.example",
        "error_message": "550 mailbox unavailable",
        "occurred_at": "2026-01-05T09:40",
        "doing": "sending a test",
    },
}


def test_database_unavailable_is_a_clear_503(app: Starlette, browser_client: TestClient) -> None:
    from portal.db.engine import Database

    token = csrf(browser_client)
    real = app.state.db
    app.state.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        r = browser_client.post("/request", data={"text": "hello there", "csrf_token": token})
        assert r.status_code == 503
        assert "nothing was saved" in r.text
        incomplete = browser_client.post("/api/requests", json={"text": "x"})
        assert incomplete.status_code == 422  # checked before the database is needed
        api = browser_client.post("/api/requests", json=COMPLETE_API_REQUEST)
        assert api.status_code == 503, api.text
    finally:
        app.state.db = real


@given(st.text(max_size=40), st.sampled_from([tokens.FILE_REQUEST, tokens.TICKET_STATUS]))
@settings(max_examples=60, deadline=None)
def test_tokens_round_trip_and_reject_tampering(value: str, purpose: str) -> None:
    """ASVS 9.1.1, 9.2.1: signed, purpose-bound; any change to a token breaks it."""
    made = tokens.make("k", purpose, value)
    assert tokens.read("k", purpose, made, 60) == value
    other = tokens.FILE_REQUEST if purpose == tokens.TICKET_STATUS else tokens.TICKET_STATUS
    with pytest.raises(tokens.TokenError):
        tokens.read("k", other, made, 60)
    with pytest.raises(tokens.TokenError):
        tokens.read("other-key", purpose, made, 60)
    flipped = ("A" if made[0] != "A" else "B") + made[1:]  # the payload's first byte
    with pytest.raises(tokens.TokenError):
        tokens.read("k", purpose, flipped, 60)


CHOOSE_FIELDS = {"request_type", "account", "email", "plan", "role", "version", "tz"}


@given(
    st.dictionaries(
        st.sampled_from(["text", *sorted(CHOOSE_FIELDS)]),
        st.text(max_size=60),
    )
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_form_checks_never_crash(form: dict[str, str]) -> None:
    """Any form input gets field errors, never an exception: the errors name only the
    step's fields, each with a message; what was typed is kept either way; a form
    without errors holds only values the policy knows."""
    policy = demo_policy()
    described = check_describe(Draft(), form)
    assert set(described.errors) <= {"text"}
    assert described.draft.text == form.get("text", "").strip()
    checked = check_choose(policy, Draft(), form)
    assert set(checked.errors) <= CHOOSE_FIELDS
    assert all(isinstance(m, str) and m for m in checked.errors.values())
    draft = checked.draft
    assert draft.account == form.get("account", "").strip()
    assert draft.email == form.get("email", "").strip().lower()
    assert draft.tz in TIMEZONES  # a time zone it does not know falls back
    if draft.request_type not in policy.request_types:
        assert "request_type" in checked.errors
    if draft.plan not in policy.plans:
        assert "plan" in checked.errors
    if checked.ok:
        assert draft.request_type in policy.request_types and draft.plan in policy.plans


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_markdown_rendering_fuzz(text: str) -> None:
    """A short fuzz of the Markdown path: never raises, never emits raw markup."""
    html = render_markdown(text + "\n<script>x</script> [a](javascript:x)").html
    assert "<script" not in html.lower()
    assert 'href="javascript:' not in html.lower()


def test_attachments_need_the_tickets_own_link(
    browser_client: TestClient, demo_settings: Settings
) -> None:
    """ASVS 8.2.2: ticket and attachment ids alone open nothing."""
    other = tokens.make(demo_settings.secret_key, tokens.TICKET_STATUS, "T-AAAA-AAAA")
    for url in [
        "/tickets/T-BBBB-BBBB/attachments/abcdefghijklmnopqrstuvwxyz012345",
        f"/tickets/T-BBBB-BBBB/attachments/abcdefghijklmnopqrstuvwxyz012345?token={other}",
        f"/tickets/T-AAAA-AAAA/attachments/..%2F..%2Fportal.db?token={other}",
    ]:
        assert browser_client.get(url).status_code == 404


def test_json_api_refuses_form_content_types(browser_client: TestClient) -> None:
    """A cross-site page can send text/plain without a preflight; the API refuses it."""
    for ctype in [
        "text/plain; charset=application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ]:
        r = browser_client.post("/api/requests", content=b"{}", headers={"content-type": ctype})
        assert r.status_code == 415, ctype


def test_upload_names_say_what_the_bytes_are(tmp_path: Path) -> None:
    stored = uploads.store(tmp_path, "invoice.html", png(), max_bytes=10_000)
    assert stored.filename == "invoice.png"


def test_staff_cli_output_has_no_terminal_escapes() -> None:
    from portal.cli import printable

    assert printable("evil\x1b[2J\x1b]0;pwned\x07@example.com") == "evil [2J ]0;pwned @example.com"


def test_control_characters_are_not_email_addresses() -> None:
    checked = check_choose(demo_policy(), Draft(), {"email": "a\x1b[31m@example.com"})
    assert "email" in checked.errors
