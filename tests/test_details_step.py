"""The wizard's details step asks what kb's rule asks (#12): "one of these" detail
groups (itpossible: the exact error message, or a complete description with the time
it happened), whole numbers (``server_count``), and the price of a plan for the number
of servers given (hsphere's Priority sign-up), computed from the policy's own fields."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.policy.details import DETAIL_FIELDS, group_text, number_problem
from kb.policy.model import Price
from portal.app import create_app
from portal.config import Settings
from portal.wizard.flow import Draft, details_form, plan_price_for, plan_price_text, plan_prices
from tests.support.forms import post
from tests.support.paths import CONTENT, EXAMPLES

ITPOSSIBLE = EXAMPLES / "itpossible" / "policy.yaml"
HSPHERE = EXAMPLES / "hsphere" / "policy.yaml"
WHEN = "2026-01-05T09:40"


def _app(pack: Path, demo_build: Path, var: Path) -> Starlette:
    settings = Settings.from_env(
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        content_dir=CONTENT,
        policy_file=pack,
        build_dir=demo_build,
        secret_key="details-test",
        allowed_hosts=("testserver",),
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def itpossible_app(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    return _app(ITPOSSIBLE, demo_build, tmp_path_factory.mktemp("itpossible-var"))


@pytest.fixture(scope="module")
def hsphere_app(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    return _app(HSPHERE, demo_build, tmp_path_factory.mktemp("hsphere-var"))


@pytest.fixture
def itpossible(itpossible_app: Starlette) -> Iterator[TestClient]:
    with TestClient(itpossible_app) as c:
        yield c


@pytest.fixture
def hsphere(hsphere_app: Starlette) -> Iterator[TestClient]:
    with TestClient(hsphere_app) as c:
        yield c


def _policy(path: Path) -> Policy:
    loaded, problems = load_policy(path)
    assert problems == [] and loaded is not None
    return loaded


def to_details(c: TestClient, request_type: str, plan: str, role: str = "") -> None:
    """Describe, choose and pass coverage; the next page is the details step."""
    r = post(c, "/request", {"text": "something needs attention"})
    assert r.status_code == 303
    form = {
        "request_type": request_type,
        "account": "AC-1001",
        "email": "ops@example.com",
        "plan": plan,
        "tz": "Europe/Berlin",
    }
    r = post(c, "/request/choose", {**form, **({"role": role} if role else {})})
    assert r.headers.get("location") == "/request/coverage", r.text
    r = post(c, "/request/coverage", {})
    assert r.headers.get("location") == "/request/details", r.text


def _fieldset(html: str, key: str) -> str:
    start = html.index(f'id="f-{key}"')
    return html[start : html.index("</fieldset>", start)]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# --- itpossible: an exact error message, or a complete description with the time --------

FAULT = {"type": "login-problem", "plan": "standard", "role": "primary"}


@pytest.mark.parametrize(
    ("given", "complete"),
    [
        pytest.param(
            {"detail_error_message": "530 Login incorrect."}, True, id="the-error-message-alone"
        ),
        pytest.param(
            {
                "detail_description": "The FTP login is refused since this morning.",
                "detail_occurred_at": WHEN,
            },
            True,
            id="without-an-error-message-a-complete-description-with-the-time",
        ),
        pytest.param(
            {"detail_description": "The FTP login is refused since this morning."},
            False,
            id="a-description-alone-needs-the-time",
        ),
        pytest.param({"detail_occurred_at": WHEN}, False, id="the-time-alone"),
        pytest.param({"detail_doing": "uploading my site"}, False, id="only-the-optional-detail"),
    ],
)
def test_one_of_these_group(itpossible: TestClient, given: dict[str, str], complete: bool) -> None:
    to_details(itpossible, FAULT["type"], FAULT["plan"], FAULT["role"])
    r = post(itpossible, "/request/details", {**given, "priority": "normal"})
    if complete:
        assert r.status_code == 303 and r.headers["location"] == "/request/review", r.text
        review = itpossible.get("/request/review").text
        for name, value in given.items():
            if name != "detail_occurred_at":  # shown as a time in the customer's zone
                assert value in unescape(review), name
        return
    assert r.status_code == 422
    policy = _policy(ITPOSSIBLE)
    words = group_text(policy.request_types[FAULT["type"]], 0)
    group = _fieldset(r.text, "group-0")
    # the error sits on the group, in the policy's words, and links from the summary
    assert '<p class="field-error" id="e-group-0">' in group
    assert words in _text(group.split('id="e-group-0"', 1)[1])
    assert 'href="#f-group-0"' in r.text
    assert 'aria-describedby="e-group-0"' in group
    # nothing typed is lost
    for name, value in given.items():
        assert value in unescape(r.text), name


def test_the_group_is_one_fieldset_and_its_fields_are_not_required_alone(
    itpossible: TestClient,
) -> None:
    to_details(itpossible, FAULT["type"], FAULT["plan"], FAULT["role"])
    page = itpossible.get("/request/details").text
    policy = _policy(ITPOSSIBLE)
    rt = policy.request_types[FAULT["type"]]
    group = _fieldset(page, "group-0")
    legend = _text(group.split("<legend>", 1)[1].split("</legend>", 1)[0]).strip()
    assert legend == f"One of these: {group_text(rt, 0)}"
    for detail in rt.detail_groups[0].members:
        field = re.search(rf'<(?:input|textarea) id="f-{detail}"[^>]*>', group)
        assert field, detail
        assert " required" not in field.group(0), detail
    assert ">or<" in group  # between the options
    # the policy's optional detail says so; the always-optional screenshot too
    for detail in ("doing", "screenshot"):
        label = re.search(rf'<label for="f-{detail}">(.*?)</label>', page, re.S)
        assert label and "(optional)" in label.group(1), detail
    assert 'id="f-doing" name="detail_doing" rows="5" required' not in page


def test_a_stored_draft_without_the_group_is_sent_back(itpossible: TestClient) -> None:
    """A review is only shown for a draft whose details still pass (``check_all``)."""
    to_details(itpossible, FAULT["type"], FAULT["plan"], FAULT["role"])
    post(itpossible, "/request/details", {"detail_description": "x", "priority": "normal"})
    r = itpossible.get("/request/review", follow_redirects=False)
    assert r.headers["location"] == "/request/details"


# --- the number of servers -------------------------------------------------------------

SIGNUP = "priority-signup"
NUMBER_PROBLEM = number_problem(DETAIL_FIELDS["server_count"], "x")


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        pytest.param("0", NUMBER_PROBLEM, id="zero"),
        pytest.param("-1", NUMBER_PROBLEM, id="negative"),
        pytest.param("four", NUMBER_PROBLEM, id="in-words"),
        pytest.param("1000000", NUMBER_PROBLEM, id="a-million"),
        pytest.param("2.5", NUMBER_PROBLEM, id="not-whole"),
        pytest.param("", "Fill in “Number of servers”.", id="empty"),
        pytest.param(" 6 ", "", id="spaces-around-six"),
    ],
)
def test_number_of_servers(hsphere: TestClient, typed: str, problem: str) -> None:
    to_details(hsphere, SIGNUP, "regular")
    r = post(hsphere, "/request/details", {"detail_server_count": typed, "priority": "normal"})
    if not problem:
        assert r.status_code == 303, r.text
        assert "6 servers" in hsphere.get("/request/review").text
        return
    assert r.status_code == 422
    assert problem in unescape(r.text)
    field = re.search(r'<input id="f-server_count"[^>]*>', r.text)
    assert field
    assert f'value="{typed.strip()}"' in field.group(0)  # what was typed is kept
    assert 'aria-invalid="true"' in field.group(0)


def test_the_number_field_is_a_number_input(hsphere: TestClient) -> None:
    to_details(hsphere, SIGNUP, "regular")
    field = re.search(r'<input id="f-server_count"[^>]*>', hsphere.get("/request/details").text)
    assert field
    for attribute in ('type="number"', 'inputmode="numeric"', 'min="1"', " required"):
        assert attribute in field.group(0)
    label = re.search(
        r'<label for="f-server_count">(.*?)</label>', hsphere.get("/request/details").text
    )
    assert label and label.group(1) == "Number of servers"


# --- the price of the plan, from the policy's fields ---------------------------------------


def _priority_price() -> dict[str, Any]:
    """hsphere's Priority price as the pack's yaml states it."""
    data = yaml.safe_load(HSPHERE.read_text("utf-8"))
    plan = next(p for p in data["plans"] if p["id"] == "priority")
    price: dict[str, Any] = plan["price"]
    assert (
        price["kind"] == "per_month"
        and (price.get("currency") or data["provider"]["currency"]) == "USD"
    )
    return price


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


@pytest.mark.parametrize("servers", [1, 4, 6, 11])
def test_the_signup_shows_the_price_computed_from_the_policy(
    hsphere: TestClient, servers: int
) -> None:
    price = _priority_price()
    extra = max(0, servers - int(price["included_servers"]))
    monthly = Decimal(price["amount"]) + extra * Decimal(price["per_extra_server"])
    total = monthly * int(price["minimum_months"])
    to_details(hsphere, SIGNUP, "regular")
    r = post(
        hsphere, "/request/details", {"detail_server_count": str(servers), "priority": "normal"}
    )
    assert r.status_code == 303, r.text
    review = _text(hsphere.get("/request/review").text)
    line = review.split("Price", 1)[1]
    assert f"Priority: {_usd(monthly)} per month for {servers} server" in line
    assert f"at least {price['minimum_months']} months, {_usd(total)} in all" in line
    if extra:
        assert f"plus {extra} × {_usd(Decimal(price['per_extra_server']))}" in line
    assert f"The policy’s terms: {' '.join(price['text'].split())}" in line
    # back on the details step, the number given shows the same price
    details = _text(hsphere.get("/request/details").text)
    assert f"Priority: {_usd(monthly)} per month for {servers} server" in details


def test_the_price_follows_the_number_live(hsphere: TestClient) -> None:
    """htmx asks the details step for the price while the number is typed: only the
    price fragment comes back, and nothing is stored."""
    to_details(hsphere, SIGNUP, "regular")
    page = hsphere.get("/request/details").text
    assert '<div id="plan-price"' in page and "per month" not in _text(page)
    field = re.search(r'<input id="f-server_count"[^>]*>', page)
    assert field and 'hx-get="/request/details"' in field.group(0)
    live = hsphere.get(
        "/request/details", params={"detail_server_count": "6"}, headers={"HX-Request": "true"}
    )
    assert live.status_code == 200
    assert live.text.strip().startswith('<div id="plan-price"')
    assert "<form" not in live.text
    monthly = Decimal(_priority_price()["amount"]) + 2 * Decimal(
        _priority_price()["per_extra_server"]
    )
    assert f"{_usd(monthly)} per month for 6 servers" in unescape(live.text)
    for bad in ("0", "four", ""):
        empty = hsphere.get(
            "/request/details", params={"detail_server_count": bad}, headers={"HX-Request": "true"}
        )
        assert "per month" not in empty.text, bad
    # the live price stored nothing: the step still has no number
    assert 'value=""' in re.search(
        r'<input id="f-server_count"[^>]*>', hsphere.get("/request/details").text
    ).group(0)  # type: ignore[union-attr]


def test_no_price_line_for_a_type_that_asks_no_number(hsphere: TestClient) -> None:
    to_details(hsphere, "response-complaint", "priority")
    page = hsphere.get("/request/details").text
    assert 'id="plan-price"' not in page
    r = post(
        hsphere,
        "/request/details",
        {"detail_description": "Ticket 1234 got a wrong answer.", "priority": "normal"},
    )
    assert r.status_code == 303, r.text
    assert "<dt>Price</dt>" not in hsphere.get("/request/review").text


def test_no_price_for_plans_without_a_structured_price() -> None:
    policy = _policy(HSPHERE)
    draft = Draft(request_type=SIGNUP, plan="regular", details={"server_count": "6"})
    assert [q.plan for q in plan_price_for(policy, draft)] == ["priority"]
    assert plan_price_text(policy, draft).startswith("Priority: $400.00 per month")
    # Regular is a share of the licence fee: never priced per server
    assert plan_prices(policy, SIGNUP, "6")[0].plan == "priority"
    # the same pack with Priority priced on request: no line at all
    quoted = dataclasses.replace(
        policy,
        plans={
            **policy.plans,
            "priority": dataclasses.replace(
                policy.plans["priority"], price=Price(kind="quote", text="On request")
            ),
        },
    )
    assert plan_price_for(quoted, draft) == ()
    assert plan_price_text(quoted, draft) == ""
    # no number, or not a number: no price
    for servers in ("", "0", "four"):
        assert (
            plan_price_for(policy, dataclasses.replace(draft, details={"server_count": servers}))
            == ()
        )
    # a type that asks no number of servers
    assert (
        plan_price_for(policy, dataclasses.replace(draft, request_type="response-complaint")) == ()
    )


def test_the_version_given_on_the_choose_step_is_not_asked_twice() -> None:
    """kolmisoft asks the MOR version on the choose step and as a detail: the detail
    starts with the version given, and what the customer typed there wins."""
    draft = Draft(request_type="bug-report", version="12")
    assert details_form(draft)["detail_product_version"] == "12"
    changed = dataclasses.replace(draft, details={"product_version": "11"})
    assert details_form(changed)["detail_product_version"] == "11"
    assert "detail_product_version" not in details_form(Draft(request_type="bug-report"))
