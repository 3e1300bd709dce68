"""The request wizard over HTTP: the happy paths, and every way to cheat the flow."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal import analytics
from portal.app import create_app
from portal.config import Settings
from tests.support.forms import csrf, post
from tests.support.paths import CONTENT
from tests.support.wizard import choose, describe, png


def test_included_request_to_review(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "my mailbox does not receive mail")
    page = c.get("/request/choose")
    assert "Email not working" in page.text  # the matching article, before anything else
    assert 'value="email-not-working" checked' in page.text  # suggested type preselected
    r = choose(c, "email-not-working")
    assert r.headers["location"] == "/request/coverage"
    page = c.get("/request/coverage")
    assert "Covered on the Standard plan" in page.text
    r = post(c, "/request/coverage", {})
    assert r.headers["location"] == "/request/details"
    page = c.get("/request/details")
    for label in ["Affected email address", "Exact error message", "When did it happen?"]:
        assert label in page.text
    assert "This is an emergency" not in page.text
    assert "Why there is no “emergency” option" in page.text
    r = post(
        c,
        "/request/details",
        {
            "detail_mailbox": "info@example.com",
            "detail_error_message": "550 5.1.1 mailbox unavailable",
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": "Sending a test mail from Thunderbird",
            "priority": "high",
        },
    )
    assert r.headers["location"] == "/request/review"
    review = c.get("/request/review").text
    assert "550 5.1.1 mailbox unavailable" in review
    assert "(America/New_York)</strong>" in review  # the due time, in the customer's zone
    # "When did it happen?", for people (the year only when it is not this year)
    assert re.search(r"Mon 5 Jan( 2026)?, 09:40 \(America/New_York\)", review)
    assert "8 business hours; support hours are Mon–Fri 08:00–18:00 (Europe/Berlin)" in review
    done = post(c, "/request/review", {})
    assert done.status_code == 200
    assert "Check your email" in done.text
    assert "If this address is listed as a contact of the account" in done.text


def test_billable_request_must_accept_charges(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "my php script has a bug")
    choose(c, "script-help")
    page = c.get("/request/coverage").text
    assert "Billable work" in page and "I accept the charges" in page
    assert "€50.00–€200.00" in page
    refused = post(c, "/request/coverage", {})
    assert refused.status_code == 422
    assert "Tick “I accept the charges described above”" in refused.text
    # skipping ahead without accepting goes back to coverage
    assert (
        c.get("/request/details", follow_redirects=False).headers["location"] == "/request/coverage"
    )
    ok = post(c, "/request/coverage", {"accept_charges": "yes"})
    assert ok.headers["location"] == "/request/details"


@pytest.mark.parametrize(
    ("request_type", "plan", "role", "heading"),
    [
        ("firewall-config", "priority", "primary", "We don't offer this"),
        ("license-activation", "standard", "primary", "Not part of the Standard plan"),
        ("password-reset", "standard", "authorised", "Needs another contact of the account"),
    ],
)
def test_requests_that_cannot_continue(
    browser_client: TestClient, request_type: str, plan: str, role: str, heading: str
) -> None:
    c = browser_client
    describe(c, "something")
    choose(c, request_type, plan=plan, role=role)
    page = c.get("/request/coverage").text
    assert heading in page
    assert 'action="/request/coverage"' not in page  # no way forward offered
    assert post(c, "/request/coverage", {"accept_charges": "yes"}).status_code == 422
    assert (
        c.get("/request/details", follow_redirects=False).headers["location"] == "/request/coverage"
    )
    assert (
        c.get("/request/review", follow_redirects=False).headers["location"] == "/request/coverage"
    )


def test_not_offered_links_the_alternative_article(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "configure iptables")
    choose(c, "firewall-config")
    page = c.get("/request/coverage").text
    assert 'href="/articles/unsupported-services.html"' in page


def test_skipping_steps_redirects_to_the_first_missing_one(browser_client: TestClient) -> None:
    c = browser_client
    for url in ["/request/choose", "/request/coverage", "/request/details", "/request/review"]:
        assert c.get(url, follow_redirects=False).headers["location"] == "/request"
    r = post(c, "/request/review", {})
    assert r.headers["location"] == "/request"
    describe(c, "reboot my server")
    r = post(c, "/request/details", {"priority": "low"})
    assert r.headers["location"] == "/request/choose"


def test_csrf_is_required(browser_client: TestClient) -> None:
    c = browser_client
    c.get("/request")
    r = c.post("/request", data={"text": "hello there"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/request", data={"text": "hello there", "csrf_token": "forged"})
    assert r.status_code == 403
    other = TestClient(c.app)
    stolen = csrf(other)
    assert c.post("/request", data={"text": "hi there", "csrf_token": stolen}).status_code == 403


def test_tampered_and_missing_fields_keep_what_was_typed(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "mail problem")
    r = choose(c, "no-such-type", email="not-an-email")
    assert r.status_code == 422
    text = r.text
    assert "Choose the kind of request that fits best." in text
    assert "Enter the email address listed as a contact" in text
    assert 'value="HH-10234"' in text  # what was typed is still there
    assert 'href="#f-email"' in text  # the error summary links to the field
    choose(c, "email-not-working")
    post(c, "/request/coverage", {})
    r = post(c, "/request/details", {"detail_mailbox": "info@example.com", "priority": "blocker"})
    assert r.status_code == 422
    text = r.text
    assert "Choose one of the priorities listed." in text  # blocker is not allowed here
    assert "Fill in “Exact error message”." in text
    assert 'value="info@example.com"' in text


def test_non_eligible_emergency_is_explained(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "one mailbox is broken")
    choose(c, "email-not-working")
    post(c, "/request/coverage", {})
    post(
        c,
        "/request/details",
        {
            "detail_mailbox": "a@example.com",
            "detail_error_message": "x",
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": "y",
            "priority": "high",
            "emergency": "yes",  # posted although the form does not offer it
        },
    )
    review = c.get("/request/review").text
    assert "is not an emergency" in review
    assert "(emergency)" not in review


def test_eligible_emergency_on_priority_runs_around_the_clock(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "the whole server is down")
    choose(c, "server-down", plan="priority")
    post(c, "/request/coverage", {})
    assert "This is an emergency" in c.get("/request/details").text
    post(
        c,
        "/request/details",
        {
            "detail_server": "web-12 (id 4711)",
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": "nothing",
            "priority": "high",
            "emergency": "yes",
        },
    )
    review = c.get("/request/review").text
    assert "Blocker (emergency)" in review
    assert "1 hour; support hours are 24 hours a day, 7 days a week" in review


def test_screenshot_upload_is_checked_by_content(browser_client: TestClient) -> None:
    c = browser_client
    describe(c, "site shows an error")
    choose(c, "website-not-loading")
    post(c, "/request/coverage", {})
    fields = {
        "detail_url": "https://example.com/",
        "detail_error_message": "500",
        "detail_occurred_at": "2026-01-05T09:40",
        "detail_doing": "opening the home page",
        "priority": "high",
    }
    bad = post(
        c,
        "/request/details",
        fields,
        files={"detail_screenshot": ("x.png", b"<html><script>", "image/png")},
    )
    assert bad.status_code == 422
    assert "Only PNG, JPEG or WebP images can be attached." in bad.text
    assert 'value="https://example.com/"' in bad.text
    big = post(
        c,
        "/request/details",
        fields,
        files={"detail_screenshot": ("big.png", png() + b"\0" * (6 * 1024 * 1024), "image/png")},
    )
    assert big.status_code == 413  # past the body limit: refused before it is parsed
    good = post(
        c,
        "/request/details",
        fields,
        files={"detail_screenshot": ("../../etc/shot.png", png(), "image/png")},
    )
    assert good.headers["location"] == "/request/review"
    review = c.get("/request/review").text
    assert "shot.png" in review and "../" not in review.split("Screenshot", 1)[1][:200]


def test_policy_change_after_acceptance_asks_again(
    browser_client: TestClient, app: Starlette
) -> None:
    c = browser_client
    describe(c, "my php script has a bug")
    choose(c, "script-help")
    post(c, "/request/coverage", {"accept_charges": "yes"})
    store = app.state.policy
    policy = store.get()
    import dataclasses
    from decimal import Decimal

    rates = {
        **policy.rates,
        "hourly": dataclasses.replace(policy.rates["hourly"], amount=Decimal(150)),
    }
    store._policy = dataclasses.replace(policy, rates=rates)
    try:
        r = c.get("/request/details", follow_redirects=False)
        assert r.headers["location"] == "/request/coverage"
    finally:
        store._policy = policy


def test_deflection_is_counted_and_ends_the_flow(
    browser_client: TestClient, app: Starlette
) -> None:
    c = browser_client
    before = analytics.report(app.state.db)
    describe(c, "forgot administrator password")
    r = post(c, "/request/solved", {"slug": "lost-admin-password", "step": "choose"})
    assert r.status_code == 200
    assert "Glad that solved it" in r.text
    assert c.get("/request/choose", follow_redirects=False).headers["location"] == "/request"
    after = analytics.report(app.state.db)
    assert after.deflected == before.deflected + 1
    solved = dict(before.deflecting_articles).get("lost-admin-password", 0)
    assert dict(after.deflecting_articles)["lost-admin-password"] == solved + 1


def test_live_suggestions_fragment(browser_client: TestClient) -> None:
    c = browser_client
    r = c.post(
        "/request/suggest",
        data={"text": "cancel my dedicated server", "csrf_token": csrf(c)},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "<html" not in r.text
    assert "server-cancellation" in r.text and "This solved my problem" in r.text
    assert "Cancel a dedicated server" in r.text  # the suggested request type


def test_failed_searches_are_recorded_without_personal_data(
    browser_client: TestClient, app: Starlette
) -> None:
    c = browser_client
    c.post(
        "/request/suggest",
        data={"text": "zzqx flurb qqq@zzzq.xx 0612345678", "csrf_token": csrf(c)},
    )
    failed = dict(analytics.report(app.state.db).failed_searches)
    assert "zzqx flurb <email> <number>" in failed
    assert not any("qqq@" in key for key in failed)


def test_report_cli(
    browser_client: TestClient,
    app: Starlette,
    demo_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from portal.cli import main

    deflected_before = analytics.report(app.state.db).deflected
    c = browser_client
    describe(c, "forgot administrator password")
    post(c, "/request/solved", {"slug": "lost-admin-password", "step": "describe"})
    c.post("/request/suggest", data={"text": "wibblewobble quux", "csrf_token": csrf(c)})
    monkeypatch.setenv("PORTAL_DATABASE_URL", demo_settings.database_url)
    result = CliRunner().invoke(main, ["report"])
    assert result.exit_code == 0, result.output
    assert "deflection rate" in result.output
    assert "wibblewobble quux" in result.output
    assert "lost-admin-password" in result.output
    data = CliRunner().invoke(main, ["report", "--json"])
    import json

    parsed = json.loads(data.output)
    assert parsed["deflected"] == deflected_before + 1
    assert [s["step"] for s in parsed["steps"]] == [
        "describe",
        "choose",
        "coverage",
        "details",
        "review",
    ]


def test_work_priced_on_request_asks_for_a_quote_and_shows_the_note(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    policy_file = content / "policy.yaml"
    text = policy_file.read_text()
    text = text.replace("    amount: 100\n    unit_minutes: 15\n    minimum_minutes: 15\n", "", 1)
    text = text.replace(
        "    details: [url, error_message, doing]\n",
        "    details: [url, error_message, doing]\n"
        "    note: Send us the script's repository address.\n",
        1,
    )
    policy_file.write_text(text)
    settings = Settings.from_env(
        database_url=f"sqlite:///{tmp_path}/portal.db",
        upload_dir=tmp_path / "uploads",
        content_dir=content,
        policy_file=policy_file,
        build_dir=tmp_path / "build",
        secret_key="s",
        allowed_hosts=("testserver",),
    )
    with TestClient(create_app(settings)) as c:
        describe(c, "my php script has a bug")
        choose(c, "script-help")
        page = c.get("/request/coverage").text
        assert "Send us the script&#39;s repository address." in page
        assert "I want a quote before any work starts" in page
        assert "I accept the charges" not in page
        assert "<dt>Rate</dt>" not in page and "<dt>Estimate</dt>" not in page
        assert "the cause turns out to be on our side" in page  # a waiver to claim
        refused = post(c, "/request/coverage", {})
        assert refused.status_code == 422
        assert "Tick “I want a quote before any work starts”" in refused.text
        ok = post(c, "/request/coverage", {"accept_charges": "yes"})
        assert ok.headers["location"] == "/request/details"
