"""``make csrf``: does a page on another site make the victim's browser act for her?

One Redis server and one node per login mode (``AUTH_COOKIE=none``, ``lax``, ``off``; all with
``REVOCATION=denylist``, so that a logout takes the token back), on http://127.0.0.1:PORT. The
attacker's pages are served from http://localhost:OTHER (another *site*: 127.0.0.1 and
localhost differ) or, for the last scenario, from http://127.0.0.1:OTHER (the same site).

For each scenario a fresh headless Chromium logs in as alice on the app's origin, then opens the
attacker's order page and logout page; each auto-submits a ``text/plain`` form. The node's
access log says what each forged request got; the API says afterwards whether an order was
created and whether alice's token was revoked. Prints one line per scenario; exit status 0 when
every scenario showed what it expects.
"""

from __future__ import annotations

import argparse
import http.server
import json
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from cluster.runtime.net import free_port, free_ports
from cluster.trace.path import parse_line
from loadtest.api import login as api_login
from loadtest.bench.targets import PY, child, node_env, start_redis, wait_http
from loadtest.csrf import browser, pages
from loadtest.csrf.outcome import (
    SCENARIOS,
    Observed,
    Scenario,
    as_expected,
    csrf_happened,
    verdict,
)

USER, PASSWORD = "alice", "alice-pass"


@contextmanager
def attacker(routes: dict[str, str]) -> Iterator[int]:
    """A static site on a free loopback port serving ``routes`` (path → HTML); its port."""

    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path, "not found").encode()
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def start_nodes(stack: ExitStack, work: Path) -> dict[str, tuple[str, Path]]:
    """One node per cookie mode; mode → (origin, log file)."""
    modes = sorted({s.cookie for s in SCENARIOS})
    *ports, redis_port = free_ports(len(modes) + 1)
    start_redis(stack, work, redis_port)
    secret = secrets.token_hex(32)
    nodes = {}
    for mode, port in zip(modes, ports, strict=True):
        env = node_env(f"node-{mode}", port, redis_port, secret, "INFO")
        env |= {"AUTH_COOKIE": mode, "REVOCATION": "denylist", "PASSWORD_HASH_COST": "10"}
        log = work / f"node-{mode}.log"
        stack.enter_context(child([PY, "-m", "nodes"], env, log))
        nodes[mode] = (f"http://127.0.0.1:{port}", log)
    for origin, _ in nodes.values():
        wait_http(f"{origin}/readyz")
    return nodes


def logged_status(
    log: Path, method: str, route: str, after: int, timeout: float = 5.0
) -> int | None:
    """The status of the first ``method route`` line of ``log`` beyond its ``after`` lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in log.read_text(errors="replace").splitlines()[after:]:
            line = parse_line(text, log.name)
            if line is not None and line.method == method and line.route == route:
                return line.status
        time.sleep(0.1)  # the node writes its log lines every 0.2 s
    return None


def api_get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, None


def csrf_orders(app: str) -> int:
    """Alice's orders carrying the attacker's item (checked with a token of her own)."""
    status, page = api_get(f"{app}/users/{USER}/orders?limit=100", api_login(app, USER))
    assert status == 200, status
    return sum(1 for order in page["orders"] if order.get("item") == pages.ORDER_ITEM)


def play(scenario: Scenario, app: str, log: Path, evil: str) -> tuple[Observed, list[str]]:
    """One scenario in a fresh browser: log in, visit both attacker pages, observe."""
    driver = browser.start()
    try:
        token = browser.login(driver, app, USER, PASSWORD)
        cookies = browser.cookie_names(driver)
        before = csrf_orders(app)
        mark = len(log.read_text().splitlines())
        browser.visit(driver, f"{evil}/order.html", app)
        order = logged_status(log, "POST", "/users/{id}/orders", mark)
        mark = len(log.read_text().splitlines())
        browser.visit(driver, f"{evil}/logout.html", None)  # 204, or a 401 page
        logout = logged_status(log, "POST", "/auth/logout", mark)
    finally:
        driver.quit()
    revoked = api_get(f"{app}/whoami", token)[0] == 401
    return Observed(order, logout, csrf_orders(app) - before, revoked), cookies


def run_all(work: Path) -> list[tuple[Scenario, Observed, list[str]]]:
    results = []
    with ExitStack() as stack:
        nodes = start_nodes(stack, work)
        for scenario in SCENARIOS:
            app, log = nodes[scenario.cookie]
            site = {
                "order.html": pages.order_page(app, USER),
                "logout.html": pages.logout_page(app),
            }
            with attacker({f"/{k}": v for k, v in site.items()}) as port:
                host = "localhost" if scenario.attacker == "cross-site" else "127.0.0.1"
                seen, cookies = play(scenario, app, log, f"http://{host}:{port}")
            results.append((scenario, seen, cookies))
    return results


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    if not browser.available():
        print(f"error: needs {browser.WHAT}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="csrf-") as tmp:
        results = run_all(Path(tmp))
    print(f"app on http://127.0.0.1:PORT; forged form body (text/plain): {pages.ORDER_BODY}")
    print(f"{'scenario':<42}{'attacker':<12}{'cookie':<14}{'order':>6}{'logout':>7}"
          f"{'revoked':>9}{'created':>8}  outcome")  # fmt: skip
    ok = True
    for scenario, seen, cookies in results:
        good = as_expected(scenario, seen)
        ok &= good
        print(f"{scenario.name:<42}{scenario.attacker:<12}{','.join(cookies) or '-':<14}"
              f"{seen.order_status!s:>6}{seen.logout_status!s:>7}{seen.token_revoked!s:>9}"
              f"{seen.orders_created:>8}  {'CSRF' if csrf_happened(seen) else 'blocked'}"
              f"{'' if good else '  (UNEXPECTED)'}")  # fmt: skip
    for scenario, seen, _ in results:
        print(f"- {scenario.name}: {verdict(seen)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
