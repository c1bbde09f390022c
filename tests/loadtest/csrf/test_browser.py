"""``make csrf`` for real: headless Chromium, the nodes, the attacker's site on another site."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.csrf import browser
from loadtest.csrf.run import run_all
from tests.support import REDIS_NEEDED, RedisServer, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_cookie_none_is_csrf_lax_blocks_it_bearer_is_never_sent(tmp_path: Path) -> None:
    require(browser.available(), browser.WHAT)
    require(RedisServer.binary() is not None, REDIS_NEEDED)
    results = {scenario.name: (scenario, seen) for scenario, seen, _ in run_all(tmp_path)}
    none = results["cookie, SameSite=None (+Secure)"][1]
    assert (none.order_status, none.logout_status, none.token_revoked) == (400, 204, True)
    assert none.orders_created == 0  # the Idempotency-Key rule: no form can send that header
    for name in ("cookie, SameSite=Lax", "Bearer only (no cookie)"):
        seen = results[name][1]
        assert (seen.order_status, seen.logout_status, seen.token_revoked) == (401, 401, False)
    same_site = results["cookie, SameSite=Lax, attacker same-site"][1]
    assert same_site.logout_status == 204 and same_site.token_revoked
