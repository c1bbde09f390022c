"""The users of ``make compare``: one shopping client, two ways to hold its state.

Every user logs in, then, by weight, adds an item (2), looks at what it added (3) and asks who
it is (3). ``COMPARE_API`` says how the state is held:

- ``token`` (the stateless cluster): a Bearer JWT; an item is an order in Redis
  (``POST /users/{id}/orders`` with an ``Idempotency-Key``), looked at with ``GET /orders/{id}``;
- ``session`` (the stateful twin, ``SESSIONS=memory``): the cookies the node and the balancer
  set (a ``requests`` cookie jar per user); an item is a line of ``/cart``, in one node's memory.

What the user sees is counted, never inferred: a 401 is a *lost session* (the user logs in again
at once; its cart is gone for it), an acknowledged item missing when it looks is a *lost item*,
every answer's ``X-Served-By`` is tallied per second. The counters go to ``COMPARE_SUMMARY``
when Locust quits. A 503 the node shed unprocessed (``X-Not-Processed``) is waited out, as
``loadtest.locustfile`` does; any other unexpected answer is a failed request.

Runs in Locust's gevent-patched process: imports nothing but ``servicekit``'s pure modules.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from locust import HttpUser, between, events, task

from servicekit.demo_users import DEMO_USERS, login_body
from servicekit.parsers import choice, text
from servicekit.settings import read, setting


@dataclass(frozen=True, slots=True)
class CompareSettings:
    """What ``loadtest.compare.run`` tells these users."""

    api: str = setting(
        "COMPARE_API", choice(("token", "session")), "token", help="how the users hold state"
    )
    summary: str | None = setting(
        "COMPARE_SUMMARY", text("a path"), None, help="the users' counters, written at exit"
    )


SETTINGS = read(CompareSettings)
SESSION = SETTINGS.api == "session"
_accounts = itertools.count()
COUNTS: Counter[str] = Counter()
SERVED: Counter[str] = Counter()  # "second node" -> answers
FORCED: set[int] = set()  # users that had to log in again


class ShopUser(HttpUser):
    wait_time = between(0.3, 1.0)

    def on_start(self) -> None:
        self.number = next(_accounts)
        self.account = DEMO_USERS[self.number % len(DEMO_USERS)]
        self.token = ""
        self.acked: list[str] = []
        self.status = 0  # of the last answer
        self.login()

    # -- plumbing ---------------------------------------------------------------------------
    def call(self, method: str, path: str, name: str, expect: int, **kw: Any) -> Any:
        """One request; the answer when it is ``expect``, else None (counted as it deserves)."""
        headers = kw.pop("headers", {})
        if not SESSION:
            headers["Authorization"] = f"Bearer {self.token}"
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kw
        ) as resp:
            self.status = resp.status_code
            node = resp.headers.get("X-Served-By")
            if node:
                SERVED[f"{int(time.time())} {node}"] += 1
            if resp.status_code == expect:
                return resp
            resp.failure(f"{name}: {resp.status_code}")
        if resp.status_code == 401:
            self.lost_session()
        return None

    def lost_session(self) -> None:
        COUNTS["sessions_lost"] += 1
        FORCED.add(self.number)
        if SESSION:  # the cart lived in the session: gone for this user
            COUNTS["items_lost"] += len(self.acked)
            self.acked = []
        self.login()

    def login(self) -> None:
        for _ in range(5):
            with self.client.post(
                "/auth/login", json=login_body(self.account), name="/auth/login",
                catch_response=True,
            ) as resp:  # fmt: skip
                if resp.status_code == 200:
                    self.token = resp.json()["access_token"]
                    COUNTS["logins"] += 1
                    return
                if resp.status_code == 503 and resp.headers.get("X-Not-Processed") == "true":
                    resp.success()  # shed before any work: wait, as told, and ask again
                    COUNTS["shed"] += 1
                    time.sleep(float(resp.headers.get("Retry-After") or 1))
                    continue
                resp.failure(f"login: {resp.status_code}")
                return

    # -- the tasks ---------------------------------------------------------------------------
    @task(2)
    def add(self) -> None:
        item = f"item-{uuid.uuid4().hex[:10]}"
        body = {"item": item, "quantity": 1}
        if SESSION:
            if self.call("POST", "/cart", "/cart (add)", 201, json=body):
                self.acked.append(item)
                COUNTS["items_acked"] += 1
            return
        key = {"Idempotency-Key": str(uuid.uuid4())}
        path = f"/users/{self.account}/orders"
        resp = self.call("POST", path, "/users/[id]/orders (add)", 201, json=body, headers=key)
        if resp is not None:
            self.acked.append(str(resp.json()["id"]))
            COUNTS["items_acked"] += 1

    @task(3)
    def look(self) -> None:
        if SESSION:
            resp = self.call("GET", "/cart", "/cart", 200)
            if resp is not None:
                present = {line["item"] for line in resp.json()["items"]}
                kept = [item for item in self.acked if item in present]
                COUNTS["items_lost"] += len(self.acked) - len(kept)
                self.acked = kept
        elif self.acked:
            order = random.choice(self.acked)
            found = self.call("GET", f"/orders/{order}", "/orders/[id]", 200)
            if found is None and self.status == 404 and order in self.acked:  # acked, now gone
                COUNTS["items_lost"] += 1
                self.acked.remove(order)

    @task(3)
    def whoami(self) -> None:
        self.call("GET", "/whoami", "/whoami", 200)


def _quitting(environment: Any, **_kwargs: Any) -> None:
    total = environment.stats.total
    environment.process_exit_code = 0  # failures are the finding here, not a broken run
    if SETTINGS.summary:
        with open(SETTINGS.summary, "w") as out:
            json.dump({**COUNTS, "requests": total.num_requests, "failed": total.num_failures,
                       "users_forced_to_log_in": len(FORCED), "served": SERVED}, out)  # fmt: skip


events.quitting.add_listener(_quitting)  # type: ignore[no-untyped-call]
