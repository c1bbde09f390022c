"""The attacker's form and the verdicts of ``make csrf``, without a browser."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from loadtest.csrf import pages
from loadtest.csrf.outcome import SCENARIOS, Observed, as_expected, csrf_happened, verdict


class Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.attrs = dict(attrs)
        if tag == "input":
            values = dict(attrs)
            self.fields.append((values["name"] or "", values["value"] or ""))


def test_the_text_plain_form_sends_exactly_the_order_json() -> None:
    form = Form()
    form.feed(pages.order_page("http://127.0.0.1:8081", "alice"))
    assert form.attrs["action"] == "http://127.0.0.1:8081/users/alice/orders"
    assert form.attrs["method"] == "POST" and form.attrs["enctype"] == "text/plain"
    # A text/plain form sends name=value (Chromium adds CRLF, which JSON ignores).
    body = "&".join(f"{n}={v}" for n, v in form.fields) + "\r\n"
    assert body.strip() == pages.ORDER_BODY
    assert json.loads(body) == {"item": pages.ORDER_ITEM, "quantity": 1}


CSRF = Observed(order_status=400, logout_status=204, orders_created=0, token_revoked=True)
BLOCKED = Observed(order_status=401, logout_status=401, orders_created=0, token_revoked=False)


@pytest.mark.parametrize(
    ("seen", "happened", "words"),
    [
        (CSRF, True, "Idempotency-Key"),
        (BLOCKED, False, "blocked"),
        (Observed(201, 204, 1, True), True, "1 order(s) created"),
        (Observed(None, None, 0, False), False, "blocked"),
    ],
)
def test_verdicts(seen: Observed, happened: bool, words: str) -> None:
    assert csrf_happened(seen) is happened
    assert words in verdict(seen)


def test_expectations() -> None:
    for scenario in SCENARIOS:
        assert as_expected(scenario, CSRF if scenario.expect_csrf else BLOCKED)
        assert not as_expected(scenario, BLOCKED if scenario.expect_csrf else CSRF)
