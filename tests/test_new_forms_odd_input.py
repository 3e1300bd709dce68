"""The forms added with sign-in and the staff console refuse odd characters the way the
wizard's do (portal/forms.py ``read_form``): 422 naming the field, never a crash, and the
same answer for a listed and an unlisted address."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.support.factories import DEMO_EMAIL
from tests.support.forms import post

# (lone surrogates cannot be encoded by the test client; tests/test_hardening_intake.py
# sends them as raw bytes through the same read_form)
ODD = ["a\x00b", "a\u202eb", "a\x1bb", "a\x7fb"]
FORMS = [
    ("/signin", "email", {"account": ""}),
    ("/signin", "account", {"email": DEMO_EMAIL}),
    ("/staff/login", "email", {"password": "not the password"}),
    ("/staff/login", "password", {"email": "sam@harbor.example"}),
]


@pytest.mark.parametrize("odd", ODD, ids=["nul", "bidi", "escape", "del"])
@pytest.mark.parametrize(("url", "field", "rest"), FORMS, ids=[f"{u}:{f}" for u, f, _ in FORMS])
def test_odd_characters_are_refused_naming_the_field(
    client: TestClient, url: str, field: str, rest: dict[str, str], odd: str
) -> None:
    r = post(client, url, {**rest, field: odd})
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert "character" in r.text.lower()


@pytest.mark.parametrize("odd", ODD, ids=["nul", "bidi", "escape", "del"])
def test_the_answer_does_not_tell_a_listed_address_from_an_unlisted_one(
    client: TestClient, odd: str
) -> None:
    listed = post(client, "/signin", {"email": DEMO_EMAIL, "account": odd})
    unlisted = post(client, "/signin", {"email": "nobody@example.org", "account": odd})
    assert listed.status_code == unlisted.status_code == 422
    assert listed.text.replace(DEMO_EMAIL, "X") == unlisted.text.replace("nobody@example.org", "X")
