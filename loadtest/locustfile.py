"""Locust users that behave like real clients of the cluster.

Each user logs in once (``alice``, ``bob``, ``carol`` in turn: many users share an account, so
their writes race) and holds only its token: no cookie, no node affinity. Tasks, by weight:
whoami, profile, list orders, create an order, update an order.

Correct-client behaviour, counted apart from failures (in ``LOAD_SUMMARY_FILE``):

- a create always carries a fresh ``Idempotency-Key``; a 409 "in progress" is answered by
  waiting ``Retry-After`` and sending the same key and body again;
- an update reads the order, then PUTs with ``If-Match``; a 412 means another client won the
  race, so the client reads again and retries on the new version.

Every acknowledged create and update is appended to ``LOAD_ACK_FILE`` (JSON lines) so that the
verifier (``loadtest.verify``) can check, afterwards, that each exists exactly once and that no
update was lost. A ``quitting`` listener sets exit code 1 when any request failed.

This file runs in Locust's gevent-patched process: it imports nothing from ``nodes``,
``balancer``, ``cluster`` or any asyncio code; only the pure ``servicekit.demo_users`` (the
demo accounts and their password rule).
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from locust import FastHttpUser, between, events, task

from servicekit.demo_users import DEMO_USERS, login_body
from servicekit.parsers import comma_list, text
from servicekit.settings import read, setting


# servicekit.settings is pure standard library (tests/servicekit/test_settings.py checks that it
# pulls in no asyncio), so this gevent-patched process may use the one settings reader.
@dataclass(frozen=True, slots=True)
class LoadSettings:
    """What the demo and ``make load`` tell these users (``describe(LoadSettings)``)."""

    accounts: tuple[str, ...] = setting(
        "LOAD_ACCOUNTS",
        comma_list(text(), "comma-separated user names"),
        DEMO_USERS,
        help="the accounts the users log in as, in turn",
    )
    ack_file: str | None = setting(
        "LOAD_ACK_FILE", text("a path"), None, help="JSON lines of acknowledged writes"
    )
    summary_file: str | None = setting(
        "LOAD_SUMMARY_FILE", text("a path"), None, help="the client-side counters, at exit"
    )


SETTINGS = read(LoadSettings)
ACCOUNTS = list(SETTINGS.accounts)
ACK_FILE = SETTINGS.ack_file
SUMMARY_FILE = SETTINGS.summary_file
MAX_RETRIES = 8

_next_account = itertools.count()
#: Acknowledged order ids per account, shared by the users of this process (they race on them).
_orders: dict[str, list[str]] = {}
_counters = {
    "creates_acknowledged": 0,
    "updates_acknowledged": 0,
    "retries_412_stale_etag": 0,
    "retries_409_in_progress": 0,
    "logins": 0,
    "shed_503": 0,
    "logins_lost_with_node": 0,
}
_ack_out = open(ACK_FILE, "a") if ACK_FILE else None  # noqa: SIM115 (lives as long as the process)


def record(entry: dict[str, Any]) -> None:
    """Append one acknowledged write; gevent does not switch inside a plain file write."""
    if _ack_out is not None:
        _ack_out.write(json.dumps({"ts": round(time.time(), 3), **entry}) + "\n")
        _ack_out.flush()


def shed_wait(resp: Any) -> float | None:
    """Seconds to wait when the answer is a 503 that says nothing was processed (the node shed
    the request before any work); None for any other answer."""
    if resp.status_code != 503 or resp.headers.get("X-Not-Processed", "").lower() != "true":
        return None
    try:
        return max(0.0, float(resp.headers.get("Retry-After") or 1))
    except ValueError:
        return 1.0


def order_id_of(body: dict[str, Any], location: str | None) -> str | None:
    if isinstance(body.get("id"), str | int):
        return str(body["id"])
    return location.rstrip("/").rsplit("/", 1)[-1] if location else None


class ApiUser(FastHttpUser):
    wait_time = between(0.2, 1.0)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.account = ACCOUNTS[next(_next_account) % len(ACCOUNTS)]
        self.token: str | None = None
        self.backoff = 0.0  # seconds before the next login attempt, doubled per failure
        self.next_login = 0.0
        self.login()

    def on_stop(self) -> None:
        if self.token:
            with self.client.post(
                "/auth/logout", headers=self.auth(), name="/auth/logout", catch_response=True
            ) as resp:
                if resp.status_code != 204:
                    resp.failure(f"logout answered {resp.status_code}")
        self.token = None

    def login(self) -> None:
        with self.client.post(
            "/auth/login", json=login_body(self.account), name="/auth/login", catch_response=True
        ) as resp:
            wait = shed_wait(resp)
            if resp.status_code == 200:
                self.token = resp.json()["access_token"]
                _counters["logins"] += 1
                self.backoff = 0.0
            elif resp.status_code in (502, 504) and resp.headers.get("X-Served-By") == "balancer":
                # The node died with the login in flight: the balancer may not resend a POST it
                # cannot know is safe, but this client knows a login changes nothing on the
                # server, so it logs in again at once. Counted apart, like 409 and 412.
                resp.request_meta["name"] = "/auth/login (lost with its node, sent again)"
                resp.success()
                _counters["logins_lost_with_node"] += 1
                self.next_login = time.monotonic() + 0.2
            elif wait is not None:
                # Shed before any work: not a failure, not a success either. It gets a row of
                # its own in Locust's stats, and the user tries again after Retry-After.
                resp.request_meta["name"] = "/auth/login (shed: 503, not processed)"
                resp.success()
                _counters["shed_503"] += 1
                self.next_login = time.monotonic() + wait
            else:
                resp.failure(f"login answered {resp.status_code}")
                # A correct client backs off instead of hammering an overloaded login.
                self.backoff = min(max(1.0, self.backoff * 2), 16.0)
                self.next_login = time.monotonic() + self.backoff

    def ready(self) -> bool:
        """Hold a token, logging in again (with backoff) when the first login failed."""
        if self.token is None and time.monotonic() >= self.next_login:
            self.login()
        return self.token is not None

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def expect(self, path: str, name: str, status: int = 200) -> dict[str, Any] | None:
        with self.client.get(path, headers=self.auth(), name=name, catch_response=True) as resp:
            if resp.status_code != status:
                resp.failure(f"expected {status}, got {resp.status_code}")
                return None
            data: dict[str, Any] = resp.json()
            return data

    @task(3)
    def whoami(self) -> None:
        if self.ready():
            self.expect("/whoami", "/whoami")

    @task(2)
    def profile(self) -> None:
        if self.ready():
            self.expect(f"/users/{self.account}", "/users/[id]")

    @task(3)
    def list_orders(self) -> None:
        if self.ready():
            self.expect(f"/users/{self.account}/orders", "/users/[id]/orders")

    @task(2)
    def create_order(self) -> None:
        if not self.ready():
            return
        key = str(uuid.uuid4())
        body = {"item": f"item-{uuid.uuid4().hex[:12]}", "quantity": random.randint(1, 5)}
        headers = {**self.auth(), "Idempotency-Key": key}
        for _ in range(MAX_RETRIES):
            with self.client.post(
                f"/users/{self.account}/orders",
                json=body,
                headers=headers,
                name="/users/[id]/orders (create)",
                catch_response=True,
            ) as resp:
                if resp.status_code == 409:
                    # The first request with this key is still being processed: a correct
                    # client waits and sends the very same request again.
                    resp.success()
                    _counters["retries_409_in_progress"] += 1
                    time.sleep(float(resp.headers.get("Retry-After") or 1))
                    continue
                if resp.status_code not in (200, 201):
                    resp.failure(f"create answered {resp.status_code}")
                    return
                order = order_id_of(resp.json(), resp.headers.get("Location"))
                if order is None:
                    resp.failure("create answered without an order id")
                    return
                _orders.setdefault(self.account, []).append(order)
                _counters["creates_acknowledged"] += 1
                record({"kind": "create", "user": self.account, "key": key, "order": order,
                        **body, "etag": resp.headers.get("ETag")})  # fmt: skip
                return

    @task(2)
    def update_order(self) -> None:
        known = _orders.get(self.account)
        if not known or not self.ready():
            return
        order = random.choice(known)
        for _ in range(MAX_RETRIES):
            with self.client.get(
                f"/orders/{order}", headers=self.auth(), name="/orders/[id]", catch_response=True
            ) as resp:
                if resp.status_code != 200:
                    resp.failure(f"read answered {resp.status_code}")
                    return
                current, etag = resp.json(), resp.headers.get("ETag", "")
            if self.put(order, current, etag):
                return

    def put(self, order: str, current: dict[str, Any], etag: str) -> bool:
        """One If-Match update; False when the version was stale (the caller re-reads)."""
        # Each update moves the quantity on by one (wrapping within the API's 1-1000 range).
        body = {"item": current["item"], "quantity": int(current["quantity"]) % 1000 + 1}
        with self.client.put(
            f"/orders/{order}",
            json=body,
            headers={**self.auth(), "If-Match": etag},
            name="/orders/[id] (update)",
            catch_response=True,
        ) as resp:
            if resp.status_code == 412:
                resp.success()  # another client updated first: not an error, re-read
                _counters["retries_412_stale_etag"] += 1
                return False
            if resp.status_code != 200:
                resp.failure(f"update answered {resp.status_code}")
                return True
            _counters["updates_acknowledged"] += 1
            record({"kind": "update", "user": self.account, "order": order, "if_match": etag,
                    "etag": resp.headers.get("ETag"), "quantity": body["quantity"]})  # fmt: skip
            return True


def _exit_code(environment: Any, **_kwargs: Any) -> None:
    """Any failed request makes the run fail (exit code 1)."""
    failures = environment.stats.total.num_failures
    if failures:
        environment.process_exit_code = 1
    logins = environment.stats.get("/auth/login", "POST")
    p95 = logins.get_response_time_percentile(0.95) if logins.num_requests else None
    if SUMMARY_FILE:
        with open(SUMMARY_FILE, "w") as out:
            json.dump(
                {**_counters, "requests": environment.stats.total.num_requests,
                 "failures": failures, "login_p95_ms": p95}, out)  # fmt: skip
    if _ack_out is not None:
        _ack_out.flush()


events.quitting.add_listener(_exit_code)  # type: ignore[no-untyped-call]
